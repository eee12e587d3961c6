import type { GatewayConfig } from './config/config';
import type { Gateway } from './gateway';

// One gateway process from start to exit: SIGTERM/SIGINT drain it within the grace period
// and exit (0 when clean), SIGHUP re-reads the keys file. The same for a lone gateway and
// for each worker of a cluster.

/** Starts the gateway and installs the signal handlers; resolves once it listens, with `stop`. */
export async function runGateway(gateway: Gateway, config: Readonly<GatewayConfig>): Promise<(reason: string) => void> {
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    gateway.log.info({ signal: reason }, 'shutting down: draining requests and buffers');
    // The grace period bounds shutdown; whatever could not finish by then is logged, not waited for.
    const deadline = setTimeout(() => {
      gateway.log.error({ graceMs: config.shutdown.graceMs }, 'shutdown grace period passed; exiting');
      process.exit(1);
    }, config.shutdown.graceMs);
    deadline.unref();
    gateway.close().then(
      () => {
        gateway.log.info('shut down cleanly');
        process.exit(0);
      },
      (err) => {
        gateway.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Rotation: the keys file is read again without a restart (it is also watched for changes).
  process.on('SIGHUP', () => gateway.reloadKeys());
  await gateway.start();
  return stop;
}
