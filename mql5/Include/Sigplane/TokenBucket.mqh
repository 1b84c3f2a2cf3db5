// A token bucket, as proto/token-bucket.ts: it starts full (burst tokens),
// refills at perSecond up to burst, and TryTake takes one token if there is
// one. Tokens are kept as token-milliseconds (tokens x 1000) in a long, so an
// integer rate and the millisecond clock refill in exact integer steps (no
// float drift refuses a token that is due), bit for bit as the server's and
// the TypeScript SDK's bucket.
//
// Two users:
//   - the master's pacing (docs/protocol.md, "Pacing"): every frame it
//     sends, resends and snapshots included, takes a token from a bucket
//     refilled at the rate its Welcome names (signals_per_second, up to
//     signals_burst). A master that keeps to it is never refused
//     RATE_LIMITED while it resends a backlog. A Welcome without those
//     fields (an older server) paces at SP_PACING_DEFAULT_PER_SECOND;
//   - the Receiver EA's ack budget (ReceiverAcks.mqh).
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_TOKEN_BUCKET_MQH
#define SIGPLANE_TOKEN_BUCKET_MQH

#include <Sigplane/Limits.mqh>

#define SP_TOKEN_MS 1000

class SpTokenBucket
  {
private:
   long              m_perSecond;
   long              m_burst;
   /** tokens x 1000 */
   long              m_credit;
   long              m_creditMax;
   long              m_lastMs;

public:
                     SpTokenBucket(void) { Configure(0, 0, 0); }

   /** Rate and burst (0 = not said: the pacing's conservative default); the bucket starts full. */
   void              Configure(uint perSecond, uint burst, long nowMs)
     {
      m_perSecond = perSecond > 0 ? (long)perSecond : (long)SP_PACING_DEFAULT_PER_SECOND;
      m_burst = burst > 0 ? (long)burst : (perSecond > 0 ? (long)perSecond : (long)SP_PACING_DEFAULT_BURST);
      if(m_burst < 1)
         m_burst = 1;
      m_creditMax = m_burst * SP_TOKEN_MS;
      m_credit = m_creditMax;
      m_lastMs = nowMs;
     }

   double            PerSecond(void) const { return (double)m_perSecond; }
   double            Burst(void) const { return (double)m_burst; }

   /** A clock that goes back refills nothing and does not move the bucket's time back. */
   void              Refill(long nowMs)
     {
      long elapsed = nowMs - m_lastMs;
      if(elapsed <= 0)
         return;
      m_lastMs = nowMs;
      long room = m_creditMax - m_credit;
      if(elapsed > room / m_perSecond)
         m_credit = m_creditMax;
      else
         m_credit = m_credit + elapsed * m_perSecond;
     }

   /** Take one token if there is one. */
   bool              TryTake(long nowMs)
     {
      Refill(nowMs);
      if(m_credit < SP_TOKEN_MS)
         return false;
      m_credit = m_credit - SP_TOKEN_MS;
      return true;
     }
  };

#endif
