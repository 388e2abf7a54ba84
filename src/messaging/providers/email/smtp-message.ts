import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { RenderedEmail } from '../../message-provider.js';

type Envelope = ReturnType<MailComposer['compile']> extends { getEnvelope(): infer E } ? E : never;

/** A message ready for the relay: the MIME text, its envelope and its Message-ID. */
export interface ComposedEmail {
  raw: Buffer;
  envelope: Envelope;
  messageId: string;
}

/**
 * Stand-ins for what differs between two messages of one shape, each the same length as what it stands
 * for and made of characters every encoder and line folder of nodemailer treats like it: hex letters
 * for the code's digits (quoted-printable's soft line breaks look at hex digits), a UUID for a UUID, a
 * date of the same format, a plain address for a plain address.
 */
const ID_STAND_IN = 'a0a0a0a0-b1b1-4c2c-8d3d-e4e4e4e4e4e4';
const BOUNDARY_STAND_IN = 'f5f5f5f5-a6a6-4b7b-8c8c-d9d9d9d9d9d9';
const DATE_STAND_IN = new Date(Date.UTC(2001, 0, 1, 0, 0, 0));
const TO_STAND_IN = 'stand-in.recipient@stand-in.invalid';
const codeStandIn = (length: number) => 'fedcba'.repeat(Math.ceil(length / 6)).slice(0, length);

/** Codes and destinations the stand-ins can take the place of; anything else is composed in full. */
const PLAIN_CODE = /^[0-9]{4,12}$/;
const PLAIN_ADDRESS = /^[a-z0-9._+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/** Enough for every language, purpose and minute count in use; past it the oldest shape is dropped. */
const MAX_SHAPES = 128;

type Slot = 'to' | 'id' | 'boundary' | 'date' | 'code';

interface Values {
  to: string;
  id: string;
  boundary: string;
  date: string;
  code: string;
}

/** One message shape (sender, subject and bodies but for the code) as nodemailer writes it, cut where the values go. */
class MessageShape {
  constructor(
    private readonly pieces: readonly string[],
    private readonly slots: readonly Slot[],
    readonly envelopeFrom: Envelope['from'],
  ) {}

  static cut(raw: string, standIns: Values, envelopeFrom: Envelope['from']): MessageShape {
    const bySlot = new Map<string, Slot>((Object.entries(standIns) as [Slot, string][]).map(([slot, text]) => [text, slot]));
    const pattern = new RegExp([...bySlot.keys()].map((text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
    const pieces: string[] = [];
    const slots: Slot[] = [];
    let from = 0;
    for (const match of raw.matchAll(pattern)) {
      pieces.push(raw.slice(from, match.index));
      slots.push(bySlot.get(match[0])!);
      from = match.index + match[0].length;
    }
    pieces.push(raw.slice(from));
    return new MessageShape(pieces, slots, envelopeFrom);
  }

  fill(values: Values): string {
    let text = this.pieces[0]!;
    for (let i = 0; i < this.slots.length; i++) text += values[this.slots[i]!] + this.pieces[i + 1]!;
    return text;
  }
}

/**
 * Composes what the SMTP provider sends, exactly as nodemailer's MailComposer does. Composing through
 * nodemailer's streams cost about 0.4 ms of CPU a message, more than anything else a delivery does; a
 * code message differs from the last one of its language and purpose only in its code, recipient,
 * Message-ID, boundary and date. So each shape is composed by nodemailer once, with stand-ins for those,
 * and every later message of that shape is the same text with its own values put in.
 *
 * A shape is used only after it has proven itself: its first message is composed both ways, and a
 * shape that does not give nodemailer's text byte for byte (a base64 body, a stand-in split across a
 * line) is never used; those messages, messages without a code and unusual addresses are composed in full.
 */
export class SmtpMessageComposer {
  private readonly shapes = new Map<string, MessageShape | null>();

  constructor(
    private readonly from: string | undefined,
    private readonly messageIdDomain: string,
  ) {}

  async compose(to: string, body: RenderedEmail, code: string | undefined): Promise<ComposedEmail> {
    const date = new Date();
    const values: Values = { to, id: randomUUID(), boundary: randomUUID(), date: formatDate(date), code: code ?? '' };
    const messageId = `<${values.id}@${this.messageIdDomain}>`;
    if (code === undefined || !PLAIN_CODE.test(code) || !PLAIN_ADDRESS.test(to))
      return this.composeInFull(to, body, messageId, values.boundary, date);
    const standIn = codeStandIn(code.length);
    const parts = [body.subject, body.text, body.html];
    if (parts.some((part) => part.includes(standIn))) return this.composeInFull(to, body, messageId, values.boundary, date);
    const [subject, text, html] = parts.map((part) => part.replaceAll(code, standIn)) as [string, string, string];
    const key = `${subject}\u0000${text}\u0000${html}`;
    const shape = this.shapes.get(key);
    if (shape) return { raw: Buffer.from(shape.fill(values), 'utf8'), envelope: { from: shape.envelopeFrom, to: [to] }, messageId };
    const composed = await this.composeInFull(to, body, messageId, values.boundary, date);
    if (shape === undefined) this.remember(key, await this.shapeOf({ subject, text, html }, composed, values));
    return composed;
  }

  /** The shape of a message with its code stood in for; null when filled in with `values` it is not nodemailer's `composed`. */
  private async shapeOf(body: RenderedEmail, composed: ComposedEmail, values: Values): Promise<MessageShape | null> {
    const standIns: Values = {
      to: TO_STAND_IN,
      id: ID_STAND_IN,
      boundary: BOUNDARY_STAND_IN,
      date: formatDate(DATE_STAND_IN),
      code: codeStandIn(values.code.length),
    };
    const model = await this.composeInFull(TO_STAND_IN, body, `<${ID_STAND_IN}@${this.messageIdDomain}>`, BOUNDARY_STAND_IN, DATE_STAND_IN);
    const shape = MessageShape.cut(model.raw.toString('utf8'), standIns, model.envelope.from);
    return shape.fill(values) === composed.raw.toString('utf8') && shape.envelopeFrom === composed.envelope.from ? shape : null;
  }

  private remember(key: string, shape: MessageShape | null): void {
    if (this.shapes.size >= MAX_SHAPES) this.shapes.delete(this.shapes.keys().next().value!);
    this.shapes.set(key, shape);
  }

  private async composeInFull(to: string, body: RenderedEmail, messageId: string, boundary: string, date: Date): Promise<ComposedEmail> {
    const { subject, html, text } = body;
    const composed = new MailComposer({ from: this.from, to, subject, text, html, messageId, date, baseBoundary: boundary }).compile();
    const raw = await composed.build();
    // The recipient is the normalized address itself, never what an address parser makes of it.
    return { raw, envelope: { ...composed.getEnvelope(), to: [to] }, messageId };
  }
}

/** The Date header as nodemailer writes it. */
function formatDate(date: Date): string {
  return date.toUTCString().replace(/GMT/, '+0000');
}
