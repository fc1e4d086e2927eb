// Harness pieces beyond one redis-server (they live in src/testing, next to RedisServer).
export { clusterUnsupportedReason, RedisCluster, startRedisCluster } from '../../src/testing/cluster.ts';
export { RedisSentinelSetup, startRedisSentinel } from '../../src/testing/sentinel.ts';
export {
  makeCertificates,
  startTlsRedis,
  tlsUnsupportedReason,
  TlsRedisServer,
  type TestCertificates,
  type TlsRedisOptions,
} from '../../src/testing/tls.ts';
