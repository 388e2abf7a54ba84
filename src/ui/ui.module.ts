import fastifyStatic from '@fastify/static';
import { Logger, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { fileURLToPath } from 'node:url';

/** Where the pages are: beside this file, in src/ when tests run the sources and in dist/ once built (scripts compiled there). */
export const UI_ROOT = fileURLToPath(new URL('./public/', import.meta.url));
export const UI_PREFIX = '/ui/';

/**
 * Scripts and styles come only from the pages' own files (no inline script or style, no other origin),
 * requests go only to this service, and no other site may frame a page that takes passwords and codes.
 * Trusted Types: the pages never build markup from strings, and the browser holds them to it.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const HEADERS: Record<string, string> = {
  'content-security-policy': UI_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  // Revalidated on every load (ETag), so a deploy never leaves a page beside last release's script.
  'cache-control': 'no-cache',
};

/**
 * The reference sign-in pages under /ui/: static HTML, CSS and one small script per page, which talk
 * to the public /v1/auth routes like any other client. Imported only when UI_ENABLED is true; no route
 * of it is in the OpenAPI document.
 */
@Module({})
export class UiModule implements OnModuleInit {
  private readonly logger = new Logger(UiModule.name);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    this.logger.log(`reference sign-in pages under ${UI_PREFIX} (UI_ENABLED)`);
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // In a context of its own, like the /docs assets: each registration of the plugin decorates nothing.
    void fastify.register(async (instance) => {
      instance.get(UI_PREFIX.slice(0, -1), (_request, reply) => reply.redirect(UI_PREFIX));
      await instance.register(fastifyStatic, {
        root: UI_ROOT,
        prefix: UI_PREFIX,
        decorateReply: false,
        // `/ui/signin` is signin.html; `/ui/` is index.html.
        extensions: ['html'],
        allowedPath: (path) => /^\/(?:[\w-]+\.(?:html|css|js))?$|^\/[\w-]+$/.test(path),
        cacheControl: false,
        setHeaders: (reply: FastifyReply) => {
          reply.headers(HEADERS);
        },
      });
    });
  }
}
