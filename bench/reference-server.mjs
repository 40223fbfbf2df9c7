// The reference of the HTTP scenarios: a bare Fastify server (no Nest, no auth, no database, no logging) answering
// the same JSON bodies as the real server. Bodies come in REFERENCE_BODIES: {"submit": {...}, "read": {...}}.
import Fastify from 'fastify';

const bodies = JSON.parse(process.env.REFERENCE_BODIES ?? '{}');
const app = Fastify({ logger: false });
app.post('/api/v1/runs', async (_request, reply) => {
  reply.code(202);
  return bodies.submit;
});
app.get('/api/v1/runs/:id', async () => bodies.read);
await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`listening on http://127.0.0.1:${app.server.address().port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
