// A real graphql-transport-ws server for wsrun's tests: graphql-ws on ws, with graphql-js.
// `node server.js PORT` (0: any free port) prints "listening PORT" once it accepts connections.
// connection_init's payload must hold {"token": "secret"} (otherwise graphql-ws closes 4403);
// {"ping": true} also makes the server send a protocol ping, and `pongs` counts the pongs back.
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { buildSchema } from 'graphql';

const schema = buildSchema(`
  type Query {
    hello(name: String): String
    add(a: Int!, b: Int!): Int
    pongs: Int
    sleep(ms: Int!): Int
    garbage: Boolean
  }
  type Subscription {
    count(to: Int!): Int
  }
`);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const roots = {
  query: {
    hello: ({ name }) => `hello ${name ?? 'world'}`,
    add: ({ a, b }) => a + b,
    pongs: (_args, context) => context.socket.pongs ?? 0,
    sleep: async ({ ms }) => {
      await sleep(ms);
      return ms;
    },
    garbage: (_args, context) => {
      context.socket.send('{this is not JSON');
      return true;
    },
  },
  subscription: {
    count: async function* ({ to }) {
      for (let n = 1; n <= to; n++) {
        await sleep(5);
        yield { count: n };
      }
    },
  },
};

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0) });
useServer(
  {
    schema,
    roots,
    context: (ctx) => ({ socket: ctx.extra.socket }),
    onConnect: (ctx) => {
      const params = ctx.connectionParams ?? {};
      if (params.token !== 'secret') return false;
      if (params.ping) setTimeout(() => ctx.extra.socket.send('{"type":"ping"}'), 20);
      return true;
    },
    onPong: (ctx) => {
      ctx.extra.socket.pongs = (ctx.extra.socket.pongs ?? 0) + 1;
    },
  },
  wss,
);
wss.on('listening', () => console.log(`listening ${wss.address().port}`));
