// The private redis-server harness lives in src/testing so that `pythia demo` and handler authors
// (pythia-worker/testing) use the same code as the tests.
export { findRedisServer, freePort, RedisServer, startRedis, type RedisServerOptions } from '../../src/testing/redis-server.ts';
