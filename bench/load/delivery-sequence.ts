/**
 * The sequence number of a Delivery frame, read straight off the protobuf
 * wire format (Frame.delivery = 8, Delivery.sequence_number = 2, see
 * proto/sigplane.proto), every other field skipped by its wire type. What
 * the bench's sigplane receivers need to count a delivery, without decoding
 * the signal inside it: in the fan-out case (1,000 receivers, 100,000
 * deliveries a second on the load core) a full protobufjs decode per
 * delivery made the load side, not the server, the bottleneck, while the
 * alternatives' receivers read 8 bytes of their payload.
 *
 * null: not a Delivery frame, or not well formed (the caller decodes it in
 * full if it cares). A Delivery without the field has sequence 0, as in
 * protobufjs.
 */
import { deliveryTags, wireType } from '@sigplane/protocol';

/** A reader over one message's bytes; every read returns -1 past the end or on a malformed value. */
class WireReader {
  constructor(
    private readonly bytes: Uint8Array,
    public at: number,
    private readonly end: number,
  ) {}

  get done(): boolean {
    return this.at >= this.end;
  }

  /** A varint as a Number (exact up to 2^53), or -1. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.end) return -1;
      const byte = this.bytes[this.at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    return -1;
  }

  /** Skips one field's value of this wire type; false if it does not fit or the type is not one proto3 writes. */
  skip(type: number): boolean {
    let length: number;
    if (type === wireType.varint) return this.varint() >= 0;
    if (type === wireType.fixed64) length = 8;
    else if (type === wireType.fixed32) length = 4;
    else if (type === wireType.lengthDelimited) length = this.varint();
    else return false;
    if (length < 0 || this.at + length > this.end) return false;
    this.at += length;
    return true;
  }
}

export function deliverySequenceOf(frame: Uint8Array): number | null {
  const outer = new WireReader(frame, 0, frame.length);
  while (!outer.done) {
    const tag = outer.varint();
    if (tag < 0) return null;
    if (tag !== deliveryTags.frame) {
      if (!outer.skip(tag & 7)) return null;
      continue;
    }
    const length = outer.varint();
    if (length < 0 || outer.at + length > frame.length) return null;
    return sequenceInDelivery(new WireReader(frame, outer.at, outer.at + length));
  }
  return null;
}

function sequenceInDelivery(delivery: WireReader): number | null {
  let sequence = 0;
  while (!delivery.done) {
    const tag = delivery.varint();
    if (tag < 0) return null;
    if (tag === deliveryTags.sequenceNumber) {
      sequence = delivery.varint();
      if (sequence < 0) return null;
    } else if (!delivery.skip(tag & 7)) return null;
  }
  return sequence;
}
