// The server URL input: wss://host[:port]/path (or ws:// to a loopback
// address only, for a server on the same machine). Anything else is
// refused with a stable code: a wss URL is never tried as plain text, and a
// token never travels in a URL (a query string is refused outright).
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_URL_MQH
#define SIGPLANE_URL_MQH

#include <Sigplane/Text.mqh>

class SpUrl
  {
public:
   bool              tls;
   string            host;
   int               port;
   string            path;

                     SpUrl(void) { tls = true; host = ""; port = 0; path = ""; }

   /** "" when `url` is usable, else a stable code and why. */
   string            Parse(const string &url, const string &expectedPath)
     {
      string rest = "";
      if(SpStartsWith(url, "wss://"))
        {
         tls = true;
         port = 443;
         rest = StringSubstr(url, 6);
        }
      else
         if(SpStartsWith(url, "ws://"))
           {
            tls = false;
            port = 80;
            rest = StringSubstr(url, 5);
           }
         else
            return "URL_SCHEME: the server URL starts with wss://";
      if(StringFind(rest, "?") >= 0 || StringFind(rest, "#") >= 0 || StringFind(rest, "@") >= 0)
         return "URL_INVALID: no query, fragment or user part (the token is an input of its own)";
      int slash = StringFind(rest, "/");
      string authority = slash < 0 ? rest : StringSubstr(rest, 0, slash);
      path = slash < 0 ? expectedPath : StringSubstr(rest, slash);
      if(path == "/" || path == "")
         path = expectedPath;
      int colon = StringFind(authority, ":");
      host = colon < 0 ? authority : StringSubstr(authority, 0, colon);
      if(colon >= 0)
        {
         int p = 0;
         if(!SpParseInt(StringSubstr(authority, colon + 1), 1, 65535, p))
            return "URL_INVALID: port 1..65535";
         port = p;
        }
      if(!SpMatchesCharset(host, ".-", 1, 253))
         return "URL_INVALID: host name or IPv4 address";
      if(path != expectedPath)
         return "URL_PATH: this EA connects to " + expectedPath;
      if(!tls && !IsLoopback())
         return "PLAINTEXT_REFUSED: ws:// only to 127.0.0.1 or localhost; use wss://";
      return "";
     }

   bool              IsLoopback(void) const
     {
      return host == "localhost" || SpStartsWith(host, "127.");
     }
  };

#endif
