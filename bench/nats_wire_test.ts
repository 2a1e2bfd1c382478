import { deepEqual, equal, throws } from "node:assert/strict";
import { connectLine, NatsParser, PING, pub, subLine } from "./node/nats_wire.mjs";

function collect(parser: NatsParser) {
  const seen: string[] = [];
  parser.onMsg = (subject, payload) => seen.push(`MSG ${subject} ${payload}`);
  parser.onPing = () => seen.push("PING");
  parser.onPong = () => seen.push("PONG");
  parser.onInfo = (json) => seen.push(`INFO ${JSON.parse(json).server_id}`);
  parser.onErr = (text) => seen.push(`ERR ${text}`);
  return seen;
}

const STREAM = 'INFO {"server_id":"S1","proto":1}\r\n' +
  'MSG bench 1 9\r\n{"seq":1}\r\n' +
  "PING\r\n" +
  'MSG bench 1 reply.to 10\r\n{"seq":22}\r\n' +
  "+OK\r\n" +
  "MSG bench 1 0\r\n\r\n" +
  "PONG\r\n" +
  "-ERR 'Slow Consumer'\r\n";
const EXPECTED = [
  "INFO S1",
  'MSG bench {"seq":1}',
  "PING",
  'MSG bench {"seq":22}',
  "MSG bench ",
  "PONG",
  "ERR 'Slow Consumer'",
];

Deno.test("NatsParser - parses every kind of server line in one chunk", () => {
  const parser = new NatsParser();
  const seen = collect(parser);
  parser.feed(STREAM);
  deepEqual(seen, EXPECTED);
  equal(parser.messages, 3);
});

Deno.test("NatsParser - gives the same result however the stream is cut into frames", () => {
  for (let size = 1; size <= STREAM.length; size++) {
    const parser = new NatsParser();
    const seen = collect(parser);
    for (let at = 0; at < STREAM.length; at += size) parser.feed(STREAM.slice(at, at + size));
    deepEqual(seen, EXPECTED, `chunks of ${size}`);
  }
});

Deno.test("NatsParser - a payload may contain CRLF and protocol words", () => {
  const parser = new NatsParser();
  const seen = collect(parser);
  parser.feed("MSG s 1 11\r\nPING\r\nMSG x\r\n");
  deepEqual(seen, ["MSG s PING\r\nMSG x"]);
});

Deno.test("NatsParser - throws on a line that is not the protocol", () => {
  throws(() => new NatsParser().feed("HELLO\r\n"), /Unexpected NATS line: "HELLO"/);
  throws(() => new NatsParser().feed("MSG s 1 2\r\nabc\r\n"), /Malformed NATS message/);
  throws(() => new NatsParser().feed("MSG s 1 x\r\n"), /Malformed NATS message/);
});

Deno.test("nats_wire - builds the client's lines", () => {
  equal(pub("bench", '{"a":1}'), 'PUB bench 7\r\n{"a":1}\r\n');
  equal(subLine("bench", 3), "SUB bench 3\r\n");
  equal(PING, "PING\r\n");
  const connect = connectLine("n");
  equal(connect.endsWith("\r\n"), true);
  deepEqual(JSON.parse(connect.slice("CONNECT ".length)).verbose, false);
});
