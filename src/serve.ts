/** Run the daemon until SIGINT/SIGTERM: config, a check of the backend, start. */
import { ConfigError, loadConfig } from './config.ts';
import { createDaemon } from './daemon.ts';
import { PluginError } from './plugin/loader.ts';

function fail(msg: string): never {
  process.stderr.write(`jinad: ${msg}\n`);
  process.exit(1);
}

export async function serve(argv: string[]): Promise<void> {
  try {
    const config = await loadConfig({ argv });
    const daemon = await createDaemon(config);
    try {
      await daemon.backend.ping();
    } catch (err) {
      await daemon.close();
      fail((err as Error).message);
    }
    await daemon.start();
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`jinad: ${signal} received, shutting down\n`);
      await daemon.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  } catch (err) {
    if (err instanceof ConfigError || err instanceof PluginError) fail(err.message);
    throw err;
  }
}
