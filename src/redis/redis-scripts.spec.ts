import { Redis } from 'ioredis';
import { LOGIN_FAILURES_SCRIPTS } from '../auth/passwords/login-failures.scripts.js';
import { DELIVERY_LEDGER_SCRIPTS } from '../messaging/delivery/delivery-ledger.scripts.js';
import { WORKER_HEARTBEAT_SCRIPTS } from '../messaging/delivery/worker-heartbeat.scripts.js';
import { CONVERSION_SCRIPTS } from '../messaging/provider-conversion.scripts.js';
import { FRAUD_GUARD_SCRIPTS } from '../otp/fraud/fraud-guard.scripts.js';
import { SEND_LIMITER_SCRIPTS } from '../otp/limits/send-limiter.scripts.js';
import { THROTTLER_SCRIPTS } from '../otp/limits/throttler.scripts.js';
import { PENDING_INDEX_SCRIPTS } from '../otp/store/pending-index.scripts.js';
import { VERIFICATION_SCRIPTS } from '../otp/store/verification.scripts.js';
import { openRedis, type RedisClient } from './redis-connection.js';
import { gatherScripts, REDIS_SCRIPTS, requireScripts } from './redis-scripts.js';

const script = (lua: string) => ({ numberOfKeys: 1, lua });

describe('gatherScripts', () => {
  it('gathers the scripts of every owner into one set', () => {
    expect(gatherScripts({ one: { otpA: script('return 1') }, two: { otpB: script('return 2') } })).toEqual({
      otpA: script('return 1'),
      otpB: script('return 2'),
    });
  });

  it('refuses a name two owners define, naming both', () => {
    const owners = { 'the store': { otpCheck: script('return 1') }, 'the limiter': { otpCheck: script('return 2') } };
    expect(() => gatherScripts(owners)).toThrow('Redis script otpCheck of the limiter collides with otpCheck of the store');
  });

  it("refuses a name that another script's Buffer variant already takes", () => {
    const owners = { 'the store': { otpCheck: script('return 1') }, 'the limiter': { otpCheckBuffer: script('return 2') } };
    expect(() => gatherScripts(owners)).toThrow('Redis script otpCheckBuffer of the limiter collides with otpCheckBuffer of the store');
  });

  it.each(['get', 'hgetall', 'defineCommand', 'connect', 'quit'])('refuses %s, which ioredis already has', (name) => {
    expect(() => gatherScripts({ 'the store': { [name]: script('return 1') } })).toThrow(`would replace ioredis's own ${name}`);
  });
});

describe('REDIS_SCRIPTS', () => {
  it("holds every owner's scripts", () => {
    const owners = [
      VERIFICATION_SCRIPTS,
      PENDING_INDEX_SCRIPTS,
      SEND_LIMITER_SCRIPTS,
      FRAUD_GUARD_SCRIPTS,
      THROTTLER_SCRIPTS,
      LOGIN_FAILURES_SCRIPTS,
      WORKER_HEARTBEAT_SCRIPTS,
      DELIVERY_LEDGER_SCRIPTS,
      CONVERSION_SCRIPTS,
    ];
    const names = owners.flatMap((owner) => Object.keys(owner));
    expect(Object.keys(REDIS_SCRIPTS).sort()).toEqual([...names].sort());
    expect(names).toHaveLength(28);
  });
});

describe('openRedis', () => {
  const opened: RedisClient[] = [];
  afterEach(() => opened.splice(0).forEach((client) => client.disconnect()));
  const open = (config: Parameters<typeof openRedis>[0]) => {
    const client = openRedis(config, { lazyConnect: true });
    opened.push(client);
    return client;
  };

  it.each([
    ['one server', { url: 'redis://127.0.0.1:1', clusterNodes: undefined }],
    ['a cluster', { url: undefined, clusterNodes: [{ host: '127.0.0.1', port: 1 }] }],
    [
      'a master found through Sentinel',
      { url: undefined, clusterNodes: undefined, sentinels: [{ host: '127.0.0.1', port: 1 }], sentinelName: 'otp' },
    ],
  ])('defines every script on a connection to %s', (_name, config) => {
    const client = open(config);
    for (const name of Object.keys(REDIS_SCRIPTS)) expect(typeof (client as unknown as Record<string, unknown>)[name]).toBe('function');
    expect(() => requireScripts(client, REDIS_SCRIPTS)).not.toThrow();
  });
});

describe('requireScripts', () => {
  it('refuses a client opened without the scripts, naming what is missing', () => {
    const client = new Redis({ lazyConnect: true });
    try {
      expect(() => requireScripts(client, THROTTLER_SCRIPTS)).toThrow('Redis client opened without the scripts otpThrottle');
    } finally {
      client.disconnect();
    }
  });
});
