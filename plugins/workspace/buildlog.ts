/**
 * The workspace build log: `<workdir>/logging.log`, one JSON object per line, written as the
 * build happens (through the daemon's log files, so it can be followed live). The last lines
 * are kept to explain a failure on the workspace item.
 */
import path from 'node:path';
import type { LogFiles } from '../../src/logfiles.ts';
import { nanoIso } from '../../src/logfiles.ts';

const TAIL = 30;

export class BuildLog {
  private lines: string[] = [];
  private file: string;

  constructor(
    private logFiles: LogFiles,
    workdir: string,
    private workspaceId: string,
  ) {
    this.file = path.join(workdir, 'logging.log');
  }

  line(message: string, level: 'info' | 'warning' | 'error' = 'info'): void {
    this.lines.push(message);
    if (this.lines.length > TAIL) this.lines.shift();
    const now = Date.now();
    this.logFiles.append(this.file, { time: nanoIso(Math.floor(now / 1000), (now % 1000) * 1e6), stream: 'build', level, message, workspace_id: this.workspaceId });
  }

  tail(): string[] {
    return [...this.lines];
  }
}
