import { Inject, Injectable, Optional } from '@nestjs/common';
import Handlebars from 'handlebars';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { messagingConfig } from '../config/config.namespaces.js';
import type { Channel, MessagingConfig } from '../config/configuration.types.js';
import type { MessageBodies, OutboundMessage, RenderedEmail, RenderedMessage } from './message-provider.js';

/** Beside this file in `src/` under jest and in `dist/` once built (the build copies the templates). */
export const TEMPLATES_DIR = fileURLToPath(new URL('./templates/', import.meta.url));

/** Overrides TEMPLATES_DIR (tests that add a language). */
export const MESSAGE_TEMPLATES_DIR = Symbol('MESSAGE_TEMPLATES_DIR');

export const DEFAULT_LOCALE = 'en';

type Part = 'subject' | 'html' | 'text' | 'sms';

interface Purpose {
  name: string;
  action: string;
}

const LOCALE_DIRECTORY = /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/;

/**
 * Renders a message from `templates/<locale>/<template>.<part>.hbs`. A language is added by adding
 * its folder; a missing language, or a file missing from one, falls back to English.
 */
@Injectable()
export class MessageRenderer {
  readonly locales: ReadonlySet<string>;
  private readonly handlebars = Handlebars.create();
  private readonly compiled = new Map<string, Handlebars.TemplateDelegate>();
  private readonly purposes = new Map<string, Record<string, Purpose>>();

  constructor(
    @Inject(messagingConfig.KEY) private readonly config: Pick<MessagingConfig, 'webOtpDomain'>,
    @Optional() @Inject(MESSAGE_TEMPLATES_DIR) private readonly dir: string = TEMPLATES_DIR,
  ) {
    this.locales = new Set(readdirSync(dir).filter((name) => LOCALE_DIRECTORY.test(name)));
    if (!this.locales.has(DEFAULT_LOCALE)) throw new Error(`message templates for "${DEFAULT_LOCALE}" are missing from ${dir}`);
    this.handlebars.registerHelper('plural', (count: number, one: string, other: string) => (count === 1 ? one : other));
  }

  /** The message with what its channel's recipient reads; throws when a template or the purposes table is missing. */
  render<C extends Channel>(message: OutboundMessage & { channel: C }): RenderedMessage<C> {
    const body = (message.channel === 'email' ? this.email(message) : this.text(message)) as MessageBodies[C];
    return { ...message, language: this.resolveLocale(message.locale), body };
  }

  email(message: OutboundMessage): RenderedEmail {
    return {
      subject: this.renderPart(message, 'subject').trim(),
      html: this.renderPart(message, 'html'),
      text: `${this.renderPart(message, 'text').trim()}\n`,
    };
  }

  /** SMS and WhatsApp text. */
  text(message: OutboundMessage): string {
    return this.renderPart(message, 'sms').trim();
  }

  /** The shipped language a BCP 47 tag resolves to: `es-MX` → `es`, `fr` → `en`. */
  resolveLocale(tag: string): string {
    return this.candidates(tag)[0]!;
  }

  private renderPart(message: OutboundMessage, part: Part): string {
    const locales = this.candidates(message.locale);
    const template = this.template(locales, `${message.template}.${part}.hbs`, part !== 'html');
    return template({
      code: message.code,
      purpose: this.purpose(locales, message.purpose),
      minutes: minutesUntil(message.expiresAt),
      webOtpDomain: this.config.webOtpDomain,
      change: message.contactChange && { newContact: message.contactChange.newContact, email: message.contactChange.kind === 'email' },
    });
  }

  private candidates(tag: string): string[] {
    const normalized = tag.trim().toLowerCase().replaceAll('_', '-');
    const language = normalized.split('-')[0]!;
    const found = [normalized, language].filter((locale) => this.locales.has(locale));
    return [...new Set([...found, DEFAULT_LOCALE])];
  }

  private template(locales: string[], file: string, plainText: boolean): Handlebars.TemplateDelegate {
    for (const locale of locales) {
      const key = `${locale}/${file}`;
      const cached = this.compiled.get(key);
      if (cached) return cached;
      const path = `${this.dir}/${key}`;
      if (!existsSync(path)) continue;
      // Only HTML is escaped: a subject or a text message shows characters as they are.
      const template = this.handlebars.compile(readFileSync(path, 'utf8'), { noEscape: plainText, strict: false });
      this.compiled.set(key, template);
      return template;
    }
    throw new Error(`no message template ${file} for ${locales.join(', ')}`);
  }

  private purpose(locales: string[], purpose: string): Purpose {
    for (const locale of locales) {
      const table = this.purposeTable(locale);
      if (!table) continue;
      if (Object.hasOwn(table, purpose)) return table[purpose]!;
      if (Object.hasOwn(table, 'verify')) return table.verify!;
    }
    throw new Error(`no purposes.json with a "verify" entry for ${locales.join(', ')}`);
  }

  private purposeTable(locale: string): Record<string, Purpose> | undefined {
    if (!this.purposes.has(locale)) {
      const path = `${this.dir}/${locale}/purposes.json`;
      if (!existsSync(path)) return undefined;
      this.purposes.set(locale, JSON.parse(readFileSync(path, 'utf8')) as Record<string, Purpose>);
    }
    return this.purposes.get(locale);
  }
}

/** Whole minutes left, rounded so that a fresh 600 s code reads "10 minutes", never less than 1. */
export function minutesUntil(expiresAt: Date, now = Date.now()): number {
  return Math.max(1, Math.round((expiresAt.getTime() - now) / 60_000));
}
