import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real OTLP/HTTP trace receiver for the tests: POST /v1/traces, as a collector takes it. It keeps
 * every body and decodes both encodings into flat spans: JSON (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
 * =http/json) and protobuf (the default), the latter with a reader of protobuf's wire format
 * written from opentelemetry-proto's trace.proto field numbers, so that it owes nothing to the
 * exporter's own encoder.
 */

export type AttributeValue = string | number | boolean | AttributeValue[];

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** "" for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client. */
  readonly kind: number;
  /** Unix epoch milliseconds. */
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly resource: Readonly<Record<string, AttributeValue>>;
}

export interface ReceivedExport {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

export interface OtlpReceiver {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly exports: ReceivedExport[];
  /** Every span of every export so far. */
  spans(): ReceivedSpan[];
  close(): Promise<void>;
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
}

interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

interface OtlpJsonTraces {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
        attributes?: OtlpKeyValue[];
        status?: { code?: number };
      }[];
    }[];
  }[];
}

function decodeValue(value: OtlpAnyValue): AttributeValue {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(decodeValue);
  throw new Error(`an attribute value of no known type: ${JSON.stringify(value)}`);
}

function decodeAttributes(attributes: OtlpKeyValue[] = []): Record<string, AttributeValue> {
  return Object.fromEntries(attributes.map(({ key, value }) => [key, decodeValue(value)]));
}

const nanosToMs = (nanos: string | number) => Number(BigInt(nanos) / 1000n) / 1000;

export function decodeJsonTraces(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString("utf8")) as OtlpJsonTraces;
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = decodeAttributes(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId ?? "",
          name: span.name,
          kind: span.kind,
          startMs: nanosToMs(span.startTimeUnixNano),
          endMs: nanosToMs(span.endTimeUnixNano),
          attributes: decodeAttributes(span.attributes),
          statusCode: span.status?.code ?? 0,
          resource,
        });
      }
    }
  }
  return spans;
}

/** One field of a protobuf message: its number and its value (a varint, 8 or 4 bytes, or a length-delimited slice). */
interface WireField {
  readonly field: number;
  readonly varint?: bigint;
  readonly bytes?: Buffer;
}

function* wireFields(message: Buffer): Generator<WireField> {
  let at = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = message[at++];
      if (byte === undefined) throw new Error("a protobuf varint runs past the end");
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
    }
  };
  while (at < message.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wireType = key & 7;
    if (wireType === 0) yield { field, varint: varint() };
    else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      yield { field, bytes: message.subarray(at, at + size) };
      at += size;
    } else if (wireType === 2) {
      const length = Number(varint());
      yield { field, bytes: message.subarray(at, at + length) };
      at += length;
    } else throw new Error(`protobuf wire type ${wireType} is not used by OTLP traces`);
  }
}

/** opentelemetry.proto.common.v1.AnyValue */
function decodeProtobufValue(message: Buffer): AttributeValue {
  for (const { field, varint, bytes } of wireFields(message)) {
    if (field === 1) return bytes!.toString("utf8");
    if (field === 2) return varint !== 0n;
    if (field === 3) return Number(BigInt.asIntN(64, varint!));
    if (field === 4) return bytes!.readDoubleLE(0);
    if (field === 5)
      return [...wireFields(bytes!)]
        .filter((value) => value.field === 1)
        .map((value) => decodeProtobufValue(value.bytes!));
  }
  throw new Error("an AnyValue with no value");
}

/** repeated opentelemetry.proto.common.v1.KeyValue */
function decodeProtobufAttribute(message: Buffer): [string, AttributeValue] {
  let key = "";
  let value: AttributeValue = "";
  for (const field of wireFields(message)) {
    if (field.field === 1) key = field.bytes!.toString("utf8");
    if (field.field === 2) value = decodeProtobufValue(field.bytes!);
  }
  return [key, value];
}

/** opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest */
export function decodeProtobufTraces(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of wireFields(body)) {
    if (resourceSpans.field !== 1) continue;
    let resource: Record<string, AttributeValue> = {};
    const scopeSpansList: Buffer[] = [];
    for (const part of wireFields(resourceSpans.bytes!)) {
      if (part.field === 1)
        resource = Object.fromEntries(
          [...wireFields(part.bytes!)]
            .filter((f) => f.field === 1)
            .map((f) => decodeProtobufAttribute(f.bytes!)),
        );
      if (part.field === 2) scopeSpansList.push(part.bytes!);
    }
    for (const scopeSpans of scopeSpansList) {
      for (const spanField of wireFields(scopeSpans)) {
        if (spanField.field !== 2) continue;
        const span = {
          traceId: "",
          spanId: "",
          parentSpanId: "",
          name: "",
          kind: 0,
          startMs: 0,
          endMs: 0,
          attributes: {} as Record<string, AttributeValue>,
          statusCode: 0,
          resource,
        };
        for (const { field, varint, bytes } of wireFields(spanField.bytes!)) {
          if (field === 1) span.traceId = bytes!.toString("hex");
          else if (field === 2) span.spanId = bytes!.toString("hex");
          else if (field === 4) span.parentSpanId = bytes!.toString("hex");
          else if (field === 5) span.name = bytes!.toString("utf8");
          else if (field === 6) span.kind = Number(varint);
          else if (field === 7) span.startMs = Number(bytes!.readBigUInt64LE(0) / 1000n) / 1000;
          else if (field === 8) span.endMs = Number(bytes!.readBigUInt64LE(0) / 1000n) / 1000;
          else if (field === 9) {
            const [key, value] = decodeProtobufAttribute(bytes!);
            span.attributes[key] = value;
          } else if (field === 15)
            for (const status of wireFields(bytes!))
              if (status.field === 3) span.statusCode = Number(status.varint);
        }
        spans.push(span);
      }
    }
  }
  return spans;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const exports: ReceivedExport[] = [];
  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    if (request.method !== "POST" || request.url !== "/v1/traces") {
      response.writeHead(404).end();
      return;
    }
    const contentType = request.headers["content-type"] ?? "";
    exports.push({ path: request.url, contentType, body });
    // An empty ExportTraceServiceResponse: everything accepted.
    if (contentType.startsWith("application/json"))
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    else response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    spans: () =>
      exports.flatMap((received) =>
        received.contentType.startsWith("application/json")
          ? decodeJsonTraces(received.body)
          : decodeProtobufTraces(received.body),
      ),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
