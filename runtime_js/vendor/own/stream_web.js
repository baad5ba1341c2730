// Node's `stream/web` and the WHATWG stream globals (ReadableStream, WritableStream,
// TransformStream, the queuing strategies, TextEncoderStream/TextDecoderStream): the
// web-streams-polyfill ponyfill (the reference implementation's behaviour), with the two text
// streams built on it from TextEncoder/TextDecoder, as Node has them.
// actionhost's own code, run as library code.
"use strict";

const streams = require("web-streams-polyfill");

class TextEncoderStream {
  constructor() {
    const encoder = new TextEncoder();
    const pair = new streams.TransformStream({
      transform(chunk, controller) {
        const text = String(chunk);
        if (text !== "") controller.enqueue(encoder.encode(text));
      },
    });
    this.readable = pair.readable;
    this.writable = pair.writable;
  }

  get encoding() {
    return "utf-8";
  }
}

class TextDecoderStream {
  constructor(label = "utf-8", options = {}) {
    const decoder = new TextDecoder(label, options);
    const pair = new streams.TransformStream({
      transform(chunk, controller) {
        const text = decoder.decode(chunk, { stream: true });
        if (text !== "") controller.enqueue(text);
      },
      flush(controller) {
        const text = decoder.decode();
        if (text !== "") controller.enqueue(text);
      },
    });
    this.readable = pair.readable;
    this.writable = pair.writable;
    this.encoding = decoder.encoding;
    this.fatal = decoder.fatal;
    this.ignoreBOM = decoder.ignoreBOM;
  }
}

module.exports = {
  ReadableStream: streams.ReadableStream,
  ReadableStreamDefaultReader: streams.ReadableStreamDefaultReader,
  ReadableStreamBYOBReader: streams.ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest: streams.ReadableStreamBYOBRequest,
  ReadableByteStreamController: streams.ReadableByteStreamController,
  ReadableStreamDefaultController: streams.ReadableStreamDefaultController,
  TransformStream: streams.TransformStream,
  TransformStreamDefaultController: streams.TransformStreamDefaultController,
  WritableStream: streams.WritableStream,
  WritableStreamDefaultWriter: streams.WritableStreamDefaultWriter,
  WritableStreamDefaultController: streams.WritableStreamDefaultController,
  ByteLengthQueuingStrategy: streams.ByteLengthQueuingStrategy,
  CountQueuingStrategy: streams.CountQueuingStrategy,
  TextEncoderStream,
  TextDecoderStream,
};
