// Entry point of the Lanes image: `lanes <service>` runs dist/services/<service>/main.js in this
// process (no wrapper process, so SIGTERM from the kubelet reaches the service's own handler).
// Plain JavaScript, outside the TypeScript build, because it is only ever run inside the image.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVICES = ['ingress', 'consensus', 'scheduler', 'executor', 'state'];
const service = process.argv[2];
if (service === undefined || !SERVICES.includes(service)) {
  process.stderr.write(`usage: <image> ${SERVICES.join('|')}\n(nats-server is /usr/local/bin/nats-server: set it as the container's command)\n`);
  process.exit(2);
}
const main = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist', 'services', service, 'main.js');
// Each main.js starts itself only when it is the script node was asked to run.
process.argv.splice(1, 2, main);
await import(main);
