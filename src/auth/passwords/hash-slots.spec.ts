import { HashSlots } from './hash-slots.js';

describe('HashSlots', () => {
  it('hands out as many slots as its size at once', async () => {
    const slots = new HashSlots(2, 1000);
    const first = await slots.acquire();
    const second = await slots.acquire();
    expect(first).toBeInstanceOf(Function);
    expect(second).toBeInstanceOf(Function);
    expect(slots.state).toEqual({ held: 2, waiting: 0 });
  });

  it('gives a waiter the slot that is released, in arrival order', async () => {
    const slots = new HashSlots(1, 1000);
    const release = (await slots.acquire())!;
    const order: string[] = [];
    const a = slots.acquire().then((r) => (order.push('a'), r));
    const b = slots.acquire().then((r) => (order.push('b'), r));
    release();
    (await a)!();
    (await b)!();
    expect(order).toEqual(['a', 'b']);
    expect(slots.state).toEqual({ held: 0, waiting: 0 });
  });

  it('turns a waiter away when no slot frees up in time, and forgets it', async () => {
    const slots = new HashSlots(1, 20);
    const release = (await slots.acquire())!;
    await expect(slots.acquire()).resolves.toBeUndefined();
    expect(slots.state).toEqual({ held: 1, waiting: 0 });
    release();
    expect(slots.state).toEqual({ held: 0, waiting: 0 });
  });

  it('ignores a second release of the same slot', async () => {
    const slots = new HashSlots(1, 1000);
    const release = (await slots.acquire())!;
    release();
    release();
    expect(slots.state).toEqual({ held: 0, waiting: 0 });
  });
});
