import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface TimedResponse {
  status: number;
  body: Record<string, unknown>;
  /** From sending the request to having read the whole answer, as the client process saw it. */
  ms: number;
}

/** POSTs JSON from a separate process and reports how long each answer took there. */
export class TimingClient {
  private sequence = 0;
  private readonly waiting = new Map<number, (response: TimedResponse) => void>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: TimedResponse & { id: number }) => {
      const { id, ...response } = message;
      this.waiting.get(id)?.(response);
      this.waiting.delete(id);
    });
  }

  static start(): TimingClient {
    return new TimingClient(
      fork(fileURLToPath(new URL('./timing-client-process.mjs', import.meta.url)), [], { stdio: 'ignore', serialization: 'json' }),
    );
  }

  post(url: string, body: unknown): Promise<TimedResponse> {
    const id = ++this.sequence;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.send({ id, url, body });
    });
  }

  close(): void {
    this.child.disconnect();
  }
}
