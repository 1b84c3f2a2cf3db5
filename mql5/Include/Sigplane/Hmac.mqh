// HMAC-SHA256 per RFC 2104 over the platform's SHA-256 (MQL5:
// CryptEncode(CRYPT_HASH_SHA256), which only hashes; the tests: OpenSSL).
// RFC 4231's vectors are checked in test/metatrader/vectors.test.ts.
//
//   HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m))
//   K' = K padded with zeros to the 64-byte block, or H(K) padded when K is longer.
//
// Buffers are reserved once: computing a MAC allocates nothing for messages
// up to the reserved size.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_HMAC_MQH
#define SIGPLANE_HMAC_MQH

#include <Sigplane/Platform.mqh>

#define SP_SHA256_BLOCK_BYTES 64
#define SP_SHA256_DIGEST_BYTES 32

class SpHmacSha256
  {
private:
   ByteBuffer        m_key;
   ByteBuffer        m_block;
   ByteBuffer        m_inner;

public:
                     SpHmacSha256(void)
     {
      m_key.Reserve(SP_SHA256_BLOCK_BYTES);
      m_block.Reserve(SP_SHA256_BLOCK_BYTES + 4096);
      m_inner.Reserve(SP_SHA256_DIGEST_BYTES);
     }

   /** mac = HMAC-SHA256(key, message bytes [from, from + count)): 32 bytes. */
   void              ComputeRange(const ByteBuffer &key, const ByteBuffer &message, int from, int count, ByteBuffer &mac)
     {
      m_key.Clear();
      if(key.Size() > SP_SHA256_BLOCK_BYTES)
         PlatformSha256(key, m_key);
      else
         m_key.Append(key);
      while(m_key.Size() < SP_SHA256_BLOCK_BYTES)
         m_key.Push(0);
      // inner = H((K' ^ ipad) || m)
      m_block.Clear();
      for(int i = 0; i < SP_SHA256_BLOCK_BYTES; i++)
         m_block.Push((uchar)(m_key.At(i) ^ 0x36));
      m_block.AppendRange(message, from, count);
      PlatformSha256(m_block, m_inner);
      // outer = H((K' ^ opad) || inner)
      m_block.Clear();
      for(int i = 0; i < SP_SHA256_BLOCK_BYTES; i++)
         m_block.Push((uchar)(m_key.At(i) ^ 0x5c));
      m_block.Append(m_inner);
      PlatformSha256(m_block, mac);
     }

   void              Compute(const ByteBuffer &key, const ByteBuffer &message, ByteBuffer &mac)
     {
      ComputeRange(key, message, 0, message.Size(), mac);
     }
  };

#endif
