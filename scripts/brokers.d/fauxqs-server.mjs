#!/usr/bin/env node
// Runs the fauxqs SQS+SNS emulator for scripts/brokers:
//
//   node fauxqs-server.mjs <fauxqs package dir> <port> <data dir>
//
// Why not its own `fauxqs` command: that CLI (2.4.1) calls startFauxqs({ logger: true }) and so takes no
// data folder (state would be lost on `scripts/brokers restart sqs`), and it listens on 0.0.0.0.
// Here the same public API is called with a dataDir (SQLite persistence: queues, messages, topics and
// subscriptions survive a restart) and the listener is kept on the loopback address.
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkgDir, portArg, dataDir] = process.argv.slice(2);
if (!pkgDir || !portArg || !dataDir) {
  console.error('usage: fauxqs-server.mjs <fauxqs package dir> <port> <data dir>');
  process.exit(2);
}
const bindHost = process.env.FAUXQS_BIND ?? '127.0.0.1';

// fauxqs hard-codes listen({ host: '0.0.0.0' }); rewrite that one call to the loopback address.
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args[0] && typeof args[0] === 'object' && args[0].host === '0.0.0.0') args[0] = { ...args[0], host: bindHost };
  return listen.apply(this, args);
};

const { startFauxqs } = await import(pathToFileURL(path.join(pkgDir, 'dist', 'app.js')).href);
const server = await startFauxqs({
  port: Number(portArg),
  dataDir,
  logger: process.env.FAUXQS_LOGGER === 'true',
});
console.log(`fauxqs listening on ${server.address} (data in ${dataDir})`);

// The https endpoint (FAUXQS_TLS_PORT, with FAUXQS_TLS_CERT and FAUXQS_TLS_KEY as PEM files): a TLS
// terminator in this process that hands each decrypted connection to the plain port, so SDK clients
// can be checked with https and a private CA. fauxqs itself speaks plain HTTP only.
let terminator;
if (process.env.FAUXQS_TLS_PORT) {
  const tlsPort = Number(process.env.FAUXQS_TLS_PORT);
  terminator = tls.createServer({ cert: fs.readFileSync(process.env.FAUXQS_TLS_CERT), key: fs.readFileSync(process.env.FAUXQS_TLS_KEY) }, (secure) => {
    const plain = net.connect(Number(portArg), '127.0.0.1');
    secure.pipe(plain).pipe(secure);
    const drop = () => { secure.destroy(); plain.destroy(); };
    secure.on('error', drop);
    plain.on('error', drop);
  });
  await new Promise((resolve, reject) => terminator.once('error', reject).listen(tlsPort, bindHost, resolve));
  console.log(`fauxqs: https on ${bindHost}:${tlsPort} (TLS terminated here, then plain HTTP to ${portArg})`);
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`fauxqs: ${signal}, stopping`);
    terminator?.close();
    server.stop().then(
      () => process.exit(0),
      (e) => { console.error(e); process.exit(1); },
    );
  });
}
