/**
 * The workspace build log: `<workdir>/logging.log`, one JSON object per line, written as the
 * build happens. The last lines are kept to explain a failure on the workspace item.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';

const TAIL = 30;

export class BuildLog {
  private out: WriteStream;
  private lines: string[] = [];

  constructor(workdir: string, private workspaceId: string) {
    mkdirSync(workdir, { recursive: true });
    this.out = createWriteStream(path.join(workdir, 'logging.log'), { flags: 'a' });
    this.out.on('error', () => {}); // the workdir may be removed by a delete mid-build
  }

  line(message: string, level: 'info' | 'warning' | 'error' = 'info'): void {
    this.lines.push(message);
    if (this.lines.length > TAIL) this.lines.shift();
    const record = { time: new Date().toISOString(), stream: 'build', level, message, workspace_id: this.workspaceId };
    this.out.write(`${JSON.stringify(record)}\n`);
  }

  tail(): string[] {
    return [...this.lines];
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
