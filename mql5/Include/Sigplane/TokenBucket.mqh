// The master's pacing (docs/protocol.md, "Pacing"): every frame it sends,
// resends and snapshots included, takes a token from a local bucket
// refilled at the rate its Welcome names (signals_per_second, up to
// signals_burst). A master that keeps to it is never refused
// RATE_LIMITED while it resends a backlog. A Welcome without those fields
// (an older server) paces at SP_PACING_DEFAULT_PER_SECOND.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_TOKEN_BUCKET_MQH
#define SIGPLANE_TOKEN_BUCKET_MQH

#include <Sigplane/Limits.mqh>

class SpTokenBucket
  {
private:
   double            m_perSecond;
   double            m_burst;
   double            m_tokens;
   long              m_lastMs;

public:
                     SpTokenBucket(void) { Configure(0, 0, 0); }

   /** Rate and burst from a Welcome (0 = not said: the conservative default); the bucket starts full. */
   void              Configure(uint perSecond, uint burst, long nowMs)
     {
      m_perSecond = perSecond > 0 ? (double)perSecond : (double)SP_PACING_DEFAULT_PER_SECOND;
      m_burst = burst > 0 ? (double)burst : (perSecond > 0 ? (double)perSecond : (double)SP_PACING_DEFAULT_BURST);
      if(m_burst < 1)
         m_burst = 1;
      m_tokens = m_burst;
      m_lastMs = nowMs;
     }

   double            PerSecond(void) const { return m_perSecond; }
   double            Burst(void) const { return m_burst; }

   void              Refill(long nowMs)
     {
      if(nowMs > m_lastMs)
        {
         m_tokens = m_tokens + (double)(nowMs - m_lastMs) * m_perSecond / 1000.0;
         if(m_tokens > m_burst)
            m_tokens = m_burst;
        }
      m_lastMs = nowMs;
     }

   /** Take one token if there is one. */
   bool              TryTake(long nowMs)
     {
      Refill(nowMs);
      if(m_tokens < 1)
         return false;
      m_tokens = m_tokens - 1;
      return true;
     }
  };

#endif
