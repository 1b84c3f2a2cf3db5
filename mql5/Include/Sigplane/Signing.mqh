// The master's two signing schemes (docs/protocol.md):
//
//   v1  signature = lowercase hex of HMAC-SHA256(secret text as bytes,
//       "%s|%lld|%lld|%s|%d|%.5f|%.5f" of subscription_id, sequence_number,
//       generated_at, symbol, order_type, volume, price); the secret is the
//       64 hex characters themselves, as StringToCharArray gives them.
//   v2  mac = HMAC-SHA256(the 32 bytes the secret's hex spells, the exact
//       encoded SignalBody or SnapshotBody bytes sent): no float is ever
//       formatted for a v2 MAC.
//
// A frame is signed once and kept: a resend is the same bytes, never
// signed again (the resend policy, docs/protocol.md).
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_SIGNING_MQH
#define SIGPLANE_SIGNING_MQH

#include <Sigplane/Text.mqh>
#include <Sigplane/Hmac.mqh>
#include <Sigplane/PrintfFixed.mqh>
#include <Sigplane/Frames.mqh>

/** The v1 payload text of a signal (%lld of sequence_number prints the uint64 read as int64). */
string SpV1Payload(const SpSignalBody &b)
  {
   return b.subscriptionId + "|" + SpLongToDecimal((long)b.sequence) + "|" + SpLongToDecimal(b.generatedAt) + "|" + b.symbol + "|" +
          IntegerToString(b.orderType) + "|" + SpFormatFixed(b.volume, 5) + "|" + SpFormatFixed(b.price, 5);
  }

class SpSigner
  {
private:
   SpHmacSha256      m_hmac;
   SpFrameEncoder    m_encoder;
   ByteBuffer        m_v1Key;
   ByteBuffer        m_v2Key;
   ByteBuffer        m_payload;
   ByteBuffer        m_body;
   ByteBuffer        m_mac;
   string            m_keyId;
   int               m_version;

public:
                     SpSigner(void)
     {
      m_version = 0;
      m_payload.Reserve(512);
      m_body.Reserve(1024);
      m_mac.Reserve(SP_SHA256_DIGEST_BYTES);
     }

   /**
    * version 1 or 2; secretHex is the subscription's MAC secret as shown
    * when it was created (64 hex characters). "" when usable, else why not.
    */
   string            Configure(int version, const string &keyId, const string &secretHex)
     {
      m_version = 0;
      m_v1Key.Clear();
      m_v2Key.Clear();
      if(version != 1 && version != 2)
         return "SIGNING_VERSION_INVALID: 1 or 2";
      if(StringLen(secretHex) != 64 || !SpHexToBytes(secretHex, m_v2Key))
         return "MAC_SECRET_INVALID: 64 hex characters, as shown when the subscription was created";
      m_v1Key.AppendString(secretHex);
      if(version == 2 && !SpMatchesCharset(keyId, "._:-", 1, 128))
         return "KEY_ID_INVALID: the key id shown with the secret";
      m_keyId = keyId;
      m_version = version;
      return "";
     }

   int               Version(void) const { return m_version; }

   /** The v1 signature (64 lowercase hex characters) of a signal. */
   string            SignatureV1(const SpSignalBody &b)
     {
      m_payload.Clear();
      m_payload.AppendString(SpV1Payload(b));
      m_hmac.Compute(m_v1Key, m_payload, m_mac);
      return SpBytesToHex(m_mac, 0, m_mac.Size());
     }

   /** The whole Frame for a signal, signed as configured, into `frame`. */
   void              SignalFrame(const SpSignalBody &b, ByteBuffer &frame)
     {
      if(m_version == 1)
        {
         m_encoder.SignalV1(b, SignatureV1(b), frame);
         return;
        }
      m_body.Clear();
      m_encoder.SignalBody(b, m_body);
      m_hmac.Compute(m_v2Key, m_body, m_mac);
      m_encoder.Signed(SP_FRAME_SIGNAL_V2, m_body, m_keyId, m_mac, frame);
     }

   /** Frame{snapshot_from_master} of `positions` at `sequence` (v2 keys only: false for v1). */
   bool              SnapshotFrame(const string &subscriptionId, ulong sequence, long generatedAtMs, const SpPositionList &positions, ByteBuffer &frame)
     {
      if(m_version != 2)
         return false;
      m_body.Clear();
      m_encoder.SnapshotBody(subscriptionId, sequence, generatedAtMs, positions, m_body);
      m_hmac.Compute(m_v2Key, m_body, m_mac);
      m_encoder.Signed(SP_FRAME_SNAPSHOT_FROM_MASTER, m_body, m_keyId, m_mac, frame);
      return true;
     }
  };

#endif
