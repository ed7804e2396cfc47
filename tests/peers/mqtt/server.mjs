// A real MQTT 3.1.1 broker over WebSocket for wsrun's tests: aedes, served by websocket-stream
// (each chunk written to the stream goes out as one WebSocket message). Listens on 127.0.0.1,
// port 0; prints {"port": N} on its first line, then one JSON line per event the tests check:
// {"event": "puback", "client": ..., "id": N} for each PUBACK it receives.
// A SUBSCRIBE to a filter under forbidden/ is refused (SUBACK 0x80); a PUBLISH to a topic under
// silent/ is never authorized, so never acknowledged (a call to it times out).
// Options: --username U --password P (else CONNACK 4); --split N: send what aedes writes in
// N-byte messages (aedes writes a CONNACK as four 1-byte writes, corked; websocket-stream joins
// corked writes into one message, a stream that does not sends four 1-byte messages: --split 1);
// --stdin: exit when standard input closes, so a test that dies takes the broker with it.
import http from 'node:http'
import { Duplex } from 'node:stream'
import { Aedes } from 'aedes'
import mqttPacket from 'mqtt-packet'
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
broker.authorizeSubscribe = (client, subscription, callback) => {
  callback(null, subscription.topic.startsWith('forbidden/') ? null : subscription)
}
broker.authorizePublish = (client, packet, callback) => {
  if (!packet.topic.startsWith('silent/')) callback(null)
}
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n')

const split = Number(option('--split') || 0)

// The stream aedes reads and writes: a duplex over the WebSocket's stream that also reads what
// the client sends with mqtt-packet (the parser aedes uses), and cuts writes in `size`-byte
// pieces when `size` > 0.
function wrap (stream, size) {
  const duplex = new Duplex({
    read () {},
    write (chunk, encoding, callback) {
      // one piece at a time: websocket-stream would join pieces written while one is in flight
      let at = 0
      const step = size || chunk.length
      const next = (error) => {
        if (error || at >= chunk.length) return callback(error)
        const piece = chunk.subarray(at, at + step)
        at += step
        stream.write(piece, next)
      }
      next()
    },
    // without --split, what aedes writes at once (corked: a CONNACK's four bytes) goes as one
    // message, as websocket-stream itself sends it
    writev: size
      ? null
      : (chunks, callback) => stream.write(Buffer.concat(chunks.map((c) => c.chunk)), callback),
    final (callback) {
      stream.end()
      callback()
    },
    destroy (error, callback) {
      stream.destroy(error)
      callback(error)
    }
  })
  const parser = mqttPacket.parser()
  let client = null
  parser.on('packet', (packet) => {
    if (packet.cmd === 'connect') client = packet.clientId
    if (packet.cmd === 'puback') say({ event: 'puback', client, id: packet.messageId })
  })
  parser.on('error', () => {})
  stream.on('data', (data) => {
    parser.parse(data)
    duplex.push(data)
  })
  stream.on('end', () => duplex.push(null))
  stream.on('error', (error) => duplex.destroy(error))
  stream.on('close', () => duplex.destroy())
  return duplex
}

const server = http.createServer()
websocketStream.createServer({ server, perMessageDeflate: false }, (stream, request) => {
  broker.handle(wrap(stream, split), request)
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
