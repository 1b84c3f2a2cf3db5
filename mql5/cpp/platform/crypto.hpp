// Hashes and random bytes of the C++ platform layer, from OpenSSL (the
// MQL5 layer uses CryptEncode and a hash-based generator).
#ifndef SIGPLANE_CPP_CRYPTO_HPP
#define SIGPLANE_CPP_CRYPTO_HPP

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <cstdlib>

inline void PlatformDigest(const EVP_MD *md, const ByteBuffer &data, ByteBuffer &digest) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.Data(), (size_t)data.Size(), out, &length, md, nullptr) != 1) {
    std::fprintf(stderr, "EVP_Digest failed\n");
    std::abort();
  }
  digest.Clear();
  for (unsigned int i = 0; i < length; i++) digest.Push(out[i]);
}

inline void PlatformSha256(const ByteBuffer &data, ByteBuffer &digest) { PlatformDigest(EVP_sha256(), data, digest); }
inline void PlatformSha1(const ByteBuffer &data, ByteBuffer &digest) { PlatformDigest(EVP_sha1(), data, digest); }

inline void PlatformRandomBytes(int count, ByteBuffer &out) {
  unsigned char buffer[256];
  while (count > 0) {
    int n = count > (int)sizeof buffer ? (int)sizeof buffer : count;
    if (RAND_bytes(buffer, n) != 1) {
      std::fprintf(stderr, "RAND_bytes failed\n");
      std::abort();
    }
    for (int i = 0; i < n; i++) out.Push(buffer[i]);
    count -= n;
  }
}

#endif
