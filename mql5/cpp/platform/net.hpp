// Sockets of the C++ platform layer: POSIX TCP, non-blocking after the
// connect, and TLS through OpenSSL with the peer's certificate verified
// (chain against the trusted CAs, and the host name or IP address of the
// URL). A certificate that does not verify fails the connection
// ("TLS_FAILED"); nothing falls back to plain text.
//
// Trusted CAs: the file named by SIGPLANE_EA_CA_FILE (the tests' self-signed
// certificate), else the system's default paths. Like MT5's
// SocketTlsCertificate, a pinned SHA-1 thumbprint (hex) may be required in
// addition.
#ifndef SIGPLANE_CPP_NET_HPP
#define SIGPLANE_CPP_NET_HPP

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstdlib>
#include <string>

struct PlatformConnection {
  int fd = -1;
  SSL *ssl = nullptr;
};

inline PlatformConnection g_connections[16];

inline SSL_CTX *PlatformTlsContext() {
  static SSL_CTX *context = nullptr;
  if (context != nullptr) return context;
  context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  const char *caFile = std::getenv("SIGPLANE_EA_CA_FILE");
  if (caFile != nullptr && caFile[0] != 0) {
    if (SSL_CTX_load_verify_locations(context, caFile, nullptr) != 1) std::fprintf(stderr, "cannot load CA file %s\n", caFile);
  } else {
    SSL_CTX_set_default_verify_paths(context);
  }
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return context;
}

inline bool PlatformWaitFd(int fd, short events, long deadlineMs) {
  for (;;) {
    long left = deadlineMs - PlatformMonotonicMs();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, (int)left);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

inline std::string PlatformTlsErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out;
}

inline void PlatformSocketClose(int socket) {
  if (socket <= 0 || socket >= 16) return;
  PlatformConnection &c = g_connections[socket];
  if (c.ssl != nullptr) {
    SSL_shutdown(c.ssl);
    SSL_free(c.ssl);
  }
  if (c.fd >= 0) close(c.fd);
  c = PlatformConnection();
}

inline int PlatformSocketOpen(const string &host, int port, bool tls, const string &pinnedThumbprint, int timeoutMs, string &error) {
  int slot = -1;
  for (int i = 1; i < 16; i++) {
    if (g_connections[i].fd < 0) {
      slot = i;
      break;
    }
  }
  if (slot < 0) {
    error = "CONNECT_FAILED: no free socket";
    return -1;
  }
  long deadline = PlatformMonotonicMs() + timeoutMs;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *found = nullptr;
  std::string portText = std::to_string(port);
  if (getaddrinfo(host.c_str(), portText.c_str(), &hints, &found) != 0 || found == nullptr) {
    error = string("CONNECT_FAILED: cannot resolve ") + host;
    return -1;
  }
  int fd = ::socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (fd < 0) {
    freeaddrinfo(found);
    error = "CONNECT_FAILED: socket()";
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r = connect(fd, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (r != 0 && errno != EINPROGRESS) {
    close(fd);
    error = string("CONNECT_FAILED: ") + string(strerror(errno));
    return -1;
  }
  if (r != 0) {
    int soError = 0;
    socklen_t len = sizeof soError;
    if (!PlatformWaitFd(fd, POLLOUT, deadline) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len) != 0 || soError != 0) {
      close(fd);
      error = string("CONNECT_FAILED: ") + string(soError != 0 ? strerror(soError) : "timeout");
      return -1;
    }
  }
  PlatformConnection &c = g_connections[slot];
  c.fd = fd;
  if (!tls) return slot;
  SSL *ssl = SSL_new(PlatformTlsContext());
  c.ssl = ssl;
  SSL_set_fd(ssl, fd);
  in_addr ip4;
  if (inet_pton(AF_INET, host.c_str(), &ip4) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
  }
  ERR_clear_error();
  for (;;) {
    int h = SSL_connect(ssl);
    if (h == 1) break;
    int e = SSL_get_error(ssl, h);
    bool wait = (e == SSL_ERROR_WANT_READ && PlatformWaitFd(fd, POLLIN, deadline)) || (e == SSL_ERROR_WANT_WRITE && PlatformWaitFd(fd, POLLOUT, deadline));
    if (!wait) {
      long verify = SSL_get_verify_result(ssl);
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : PlatformTlsErrors();
      if (why.empty()) why = "handshake failed";
      PlatformSocketClose(slot);
      error = string("TLS_FAILED: ") + string(why);
      return -1;
    }
  }
  if (StringLen(pinnedThumbprint) > 0) {
    X509 *cert = SSL_get1_peer_certificate(ssl);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    std::string hex;
    if (cert != nullptr && X509_digest(cert, EVP_sha1(), digest, &n) == 1) {
      static const char *digits = "0123456789abcdef";
      for (unsigned int i = 0; i < n; i++) {
        hex += digits[digest[i] >> 4];
        hex += digits[digest[i] & 15];
      }
    }
    if (cert != nullptr) X509_free(cert);
    std::string pinned = pinnedThumbprint.Std();
    for (char &ch : pinned) ch = (char)tolower((unsigned char)ch);
    if (hex != pinned) {
      PlatformSocketClose(slot);
      error = "TLS_FAILED: the certificate's thumbprint is not the pinned one";
      return -1;
    }
  }
  return slot;
}

/** Bytes written now (0: the socket pushes back), or -1 when the connection is gone. */
inline int PlatformSocketSend(int socket, const ByteBuffer &data, int count) {
  if (socket <= 0 || socket >= 16 || g_connections[socket].fd < 0) return -1;
  PlatformConnection &c = g_connections[socket];
  if (count <= 0) return 0;
  if (c.ssl != nullptr) {
    int n = SSL_write(c.ssl, data.Data(), count);
    if (n > 0) return n;
    int e = SSL_get_error(c.ssl, n);
    return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
  }
  ssize_t n = send(c.fd, data.Data(), (size_t)count, MSG_NOSIGNAL);
  if (n >= 0) return (int)n;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
}

/** Appends what can be read now (at most maxBytes): the count, 0 when nothing came, -1 when the connection is closed. */
inline int PlatformSocketRead(int socket, ByteBuffer &into, int maxBytes) {
  if (socket <= 0 || socket >= 16 || g_connections[socket].fd < 0) return -1;
  PlatformConnection &c = g_connections[socket];
  int before = into.Size();
  into.Resize(before + maxBytes);
  int got = 0;
  int result = 0;
  while (got < maxBytes) {
    if (c.ssl != nullptr) {
      int n = SSL_read(c.ssl, into.MutableData() + before + got, maxBytes - got);
      if (n > 0) {
        got += n;
        continue;
      }
      int e = SSL_get_error(c.ssl, n);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) result = -1;
      break;
    }
    ssize_t n = recv(c.fd, into.MutableData() + before + got, (size_t)(maxBytes - got), 0);
    if (n > 0) {
      got += (int)n;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) result = -1;
    break;
  }
  into.Resize(before + got);
  if (got > 0) return got;
  return result;
}

#endif
