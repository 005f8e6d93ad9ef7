"""JinaLogger: named, levelled lines on stdout (the object's log), as `name@pid[L]:message`."""
import os
import sys

_LEVELS = {'DEBUG': 10, 'INFO': 20, 'SUCCESS': 25, 'WARNING': 30, 'ERROR': 40, 'CRITICAL': 50}


class JinaLogger:
    def __init__(self, context, log_config=None, identity=None, workspace_path=None, **kwargs):
        self.context = str(context)
        self.name = self.context
        level = os.environ.get('JINA_LOG_LEVEL', 'INFO').upper()
        self.level = _LEVELS.get(level, 20)

    def _log(self, level, msg, *args):
        if _LEVELS[level] < self.level:
            return
        text = str(msg) % args if args else str(msg)
        stream = sys.stderr if _LEVELS[level] >= 40 else sys.stdout
        stream.write(f'{self.context}@{os.getpid()}[{level[0]}]:{text}\n')
        stream.flush()

    def debug(self, msg, *args, **kwargs):
        self._log('DEBUG', msg, *args)

    def info(self, msg, *args, **kwargs):
        self._log('INFO', msg, *args)

    def success(self, msg, *args, **kwargs):
        self._log('SUCCESS', msg, *args)

    def warning(self, msg, *args, **kwargs):
        self._log('WARNING', msg, *args)

    warn = warning

    def error(self, msg, *args, **kwargs):
        self._log('ERROR', msg, *args)

    def critical(self, msg, *args, **kwargs):
        self._log('CRITICAL', msg, *args)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
