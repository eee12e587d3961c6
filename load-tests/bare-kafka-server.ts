import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { compatibilityPartitioner, Producer, stringSerializer } from '@platformatic/kafka';

// The ceiling for Node in `npm run bench:kafka`: node:http and the gateway's Kafka client
// with the gateway's producer settings (acks=all, the same codec and partitioner), no
// validation, no Avro, no batching across requests. Each POSTed JSON array becomes one send,
// one record per element keyed by its orderId, with CloudEvents headers; 200 once acked.
// Run as a child: argv brokers, topic, compression; it sends {port} once it listens.

const [brokers, topic, compression] = process.argv.slice(2);
const producer = new Producer({
  clientId: 'bare-node-http',
  bootstrapBrokers: brokers.split(','),
  acks: -1,
  compression: compression as 'gzip',
  partitioner: compatibilityPartitioner,
  serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
});

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const now = new Date().toISOString();
    const events = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { orderId: string }[];
    const messages = events.map((event) => ({
      topic,
      key: event.orderId,
      value: Buffer.from(JSON.stringify(event)),
      headers: { ce_specversion: '1.0', ce_id: randomUUID(), ce_type: 'shop.order-placed', ce_source: '/post', ce_time: now },
    }));
    producer.send({ messages }).then(
      () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":' + events.length + '}'),
      (err: Error) => res.writeHead(503).end(err.message),
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as { port: number }).port }));
process.on('SIGTERM', () => server.close(() => void producer.close().then(() => process.exit(0))));
