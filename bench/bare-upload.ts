/** The bare reference for uploads: a node:http server that streams each request body to a file. */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = mkdtempSync(path.join(tmpdir(), 'bare-upload-'));
let n = 0;
http
  .createServer(async (req, res) => {
    if (req.method === 'GET') return res.end('{}');
    const file = path.join(dir, String(n++));
    await pipeline(req, createWriteStream(file));
    rmSync(file, { force: true });
    res.writeHead(201).end('{}');
  })
  .listen(Number(process.env.BARE_PORT), '127.0.0.1');
