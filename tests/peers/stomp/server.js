// A real STOMP broker over WebSocket for wsrun's tests: stomp-broker-js (STOMP 1.1) on a Node
// http server at /stomp. Listens on 127.0.0.1, port 0; prints {"port": N} on its first line.
// Options: --login L --passcode P (a CONNECT without them gets ERROR), --heartbeat SX,SY (what
// the broker offers, ms; with SY > 0 it expects the client's heart-beats and closes a silent
// client), --stdin (exit when standard input closes).
const http = require('node:http')
const StompServer = require('stomp-broker-js')

const args = process.argv.slice(2)
const option = (name) => {
  const at = args.indexOf(name)
  return at >= 0 ? args[at + 1] : undefined
}
const login = option('--login')
const passcode = option('--passcode')
const heartbeat = (option('--heartbeat') || '0,0').split(',').map(Number)

const server = http.createServer()
const broker = new StompServer({ server, path: '/stomp', heartbeat, heartbeatErrorMargin: 200 })
if (login !== undefined) {
  broker.addMiddleware('connect', (socket, args, next) => {
    const headers = args.headers || {}
    if (headers.login === login && headers.passcode === passcode) {
      return next()
    }
    return false
  })
}
const say = (value) => process.stdout.write(JSON.stringify(value) + '\n')
server.listen(0, '127.0.0.1', () => say({ port: server.address().port }))

const stop = () => {
  server.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
if (args.includes('--stdin')) {
  process.stdin.on('end', stop)
  process.stdin.resume()
}
