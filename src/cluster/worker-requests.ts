import cluster, { type Worker } from 'node:cluster';

// Questions the primary asks every worker over the cluster's IPC channel (its metrics, its
// readiness, what the inspector shows of it, a dead-letter re-drive), and the workers' answers. A worker that dies or hangs while asked is left out
// of the answer after a timeout rather than holding a scrape or a probe open.

const REQUEST = 'tracking-gateway:request';
const RESPONSE = 'tracking-gateway:response';

export type Question = 'metrics' | 'readiness' | 'inspector-state' | 'dead-letter-redrive';

interface RequestMessage {
  type: typeof REQUEST;
  id: number;
  question: Question;
  arg?: unknown;
}

interface ResponseMessage {
  type: typeof RESPONSE;
  id: number;
  answer?: unknown;
  error?: string;
}

let nextId = 0;

/** Every connected worker's answer, in no particular order; those that did not answer in time are missing. */
export function askWorkers(question: Question, timeoutMs: number, arg?: unknown): Promise<unknown[]> {
  const id = nextId++;
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  if (workers.length === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    const answers: unknown[] = [];
    const pending = new Set(workers);
    const finish = () => {
      clearTimeout(timer);
      for (const [worker, listeners] of attached) {
        worker.off('message', listeners.message);
        worker.off('exit', listeners.exit);
      }
      resolve(answers);
    };
    const timer = setTimeout(finish, timeoutMs);
    const done = (worker: Worker) => pending.delete(worker) && pending.size === 0 && finish();
    const attached = new Map<Worker, { message: (m: ResponseMessage) => void; exit: () => void }>();
    for (const worker of workers) {
      const listeners = {
        message: (message: ResponseMessage) => {
          if (message?.type !== RESPONSE || message.id !== id || !pending.has(worker)) return;
          if (message.error === undefined) answers.push(message.answer);
          done(worker);
        },
        exit: () => done(worker),
      };
      attached.set(worker, listeners);
      worker.on('message', listeners.message);
      worker.on('exit', listeners.exit);
      worker.send({ type: REQUEST, id, question, arg } satisfies RequestMessage);
    }
  });
}

/** In a worker: answers the primary's questions with `answers[question](arg)`. */
export function answerPrimary(answers: Record<Question, (arg: unknown) => unknown>): void {
  process.on('message', (message: RequestMessage) => {
    if (message?.type !== REQUEST) return;
    Promise.resolve()
      .then(() => answers[message.question](message.arg))
      .then(
        (answer) => process.send?.({ type: RESPONSE, id: message.id, answer } satisfies ResponseMessage),
        (err: Error) => process.send?.({ type: RESPONSE, id: message.id, error: err.message } satisfies ResponseMessage),
      );
  });
}
