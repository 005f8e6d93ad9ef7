/**
 * The workspace build log: `logging.log` in the daemon's folder of the workspace (never in the
 * work directory, which containers can write), one JSON object per line, written as the build happens (through the daemon's log files, so it can be followed live). The last lines
 * are kept to explain a failure on the workspace item.
 */
import { jinaType, type LogFiles, msIso } from 'jinad/plugin';

const TAIL = 30;

export class BuildLog {
  private lines: string[] = [];
  constructor(
    private logFiles: LogFiles,
    private file: string,
    private workspaceId: string,
  ) {}

  line(message: string, level: 'info' | 'warning' | 'error' = 'info'): void {
    this.lines.push(message);
    if (this.lines.length > TAIL) this.lines.shift();
    this.logFiles.append(this.file, { time: msIso(), stream: 'build', level, message, workspace_id: this.workspaceId, host: 'jinad', name: 'build', type: jinaType('build', level) });
  }

  tail(): string[] {
    return [...this.lines];
  }
}
