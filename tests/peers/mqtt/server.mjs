// A real MQTT 3.1.1 broker over WebSocket for wsrun's tests: aedes, served by websocket-stream
// (each chunk written to the stream goes out as one WebSocket message). Listens on 127.0.0.1,
// port 0; prints {"port": N} on its first line, then one JSON line per event the tests check:
// {"event": "puback", "client": ..., "id": N} for each PUBACK of a delivery it receives.
// Options: --username U --password P (else CONNACK 4); --split N: write what aedes writes in
// N-byte chunks, so N-byte messages (aedes 1.2 writes whole packets, where older brokers over
// websocket-stream sent a CONNACK as four 1-byte messages); --stdin: exit when standard input
// closes, so a test that dies takes the broker with it.
import http from 'node:http'
import { Duplex } from 'node:stream'
import { Aedes } from 'aedes'
import websocketStream from 'websocket-stream'

const args = process.argv.slice(2)
const option = (name) => {
  const at = args.indexOf(name)
  return at >= 0 ? args[at + 1] : undefined
}
const username = option('--username')
const password = option('--password')

const broker = await Aedes.createBroker()
if (username !== undefined) {
  broker.authenticate = (client, user, pass, callback) => {
    if (user === username && pass !== undefined && pass !== null && pass.toString() === password) {
      callback(null, true)
      return
    }
    const error = new Error('bad user name or password')
    error.returnCode = 4
    callback(error, null)
  }
}
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n')
broker.on('ack', (packet, client) => {
  if (packet && packet.messageId !== undefined) {
    say({ event: 'puback', client: client ? client.id : null, id: packet.messageId, topic: packet.topic })
  }
})

const split = Number(option('--split') || 0)

// The stream aedes reads and writes: `stream` itself, or a duplex cutting its writes in pieces.
function splitting (stream, size) {
  const duplex = new Duplex({
    read () {},
    write (chunk, encoding, callback) {
      // one piece at a time: websocket-stream would join pieces written while one is in flight
      let at = 0
      const next = (error) => {
        if (error || at >= chunk.length) return callback(error)
        const piece = chunk.subarray(at, at + size)
        at += size
        stream.write(piece, next)
      }
      next()
    },
    final (callback) {
      stream.end()
      callback()
    },
    destroy (error, callback) {
      stream.destroy(error)
      callback(error)
    }
  })
  stream.on('data', (data) => duplex.push(data))
  stream.on('end', () => duplex.push(null))
  stream.on('error', (error) => duplex.destroy(error))
  stream.on('close', () => duplex.destroy())
  return duplex
}

const server = http.createServer()
websocketStream.createServer({ server, perMessageDeflate: false }, (stream, request) => {
  broker.handle(split > 0 ? splitting(stream, split) : stream, request)
})
server.listen(0, '127.0.0.1', () => say({ port: server.address().port }))

const stop = () => {
  server.close()
  broker.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 500).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
if (args.includes('--stdin')) {
  process.stdin.on('end', stop)
  process.stdin.resume()
}
