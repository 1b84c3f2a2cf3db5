// The master's answer to BUSY and RATE_LIMITED, free of sockets and clocks
// (client/busy-window.ts, the same rules). BUSY or RATE_LIMITED for
// sequence N means N and every later signal of this connection was not
// taken (docs/protocol.md and the resend policy). So the master
//   1. waits until the last signal it had sent is answered (the rest of the
//      refused burst drains: none of those answers means anything new),
//   2. waits a backoff (SP_BUSY_RESEND_DELAY_MIN_MS doubling to _MAX_MS
//      while refusals repeat, reset by an ack),
//   3. sends again from N, at most `limit` unanswered at a time: half of
//      what was in flight when refused; each ack widens it by one until it
//      covers the whole outbox (no limit again).
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_BUSY_WINDOW_MQH
#define SIGPLANE_BUSY_WINDOW_MQH

#include <Sigplane/Limits.mqh>

#define SP_BUSY_IGNORE 0
#define SP_BUSY_WAIT 1
#define SP_BUSY_RESEND_AFTER 2

// "No limit": more than any outbox holds.
#define SP_BUSY_NO_LIMIT 2147483647

class SpBusyWindow
  {
private:
   bool              m_refused;
   ulong             m_refusedFrom;
   ulong             m_refusedLastSent;
   bool              m_drained;
   long              m_delayMs;

   int               EndOfBurst(ulong sequence, long &delayMs)
     {
      if(!m_refused)
         return SP_BUSY_IGNORE;
      if(m_drained || sequence < m_refusedLastSent)
         return SP_BUSY_WAIT;
      m_drained = true;
      delayMs = m_delayMs;
      m_delayMs = m_delayMs * 2 > SP_BUSY_RESEND_DELAY_MAX_MS ? SP_BUSY_RESEND_DELAY_MAX_MS : m_delayMs * 2;
      return SP_BUSY_RESEND_AFTER;
     }

public:
   /** The highest sequence sent on this connection (rewound by a refusal). */
   ulong             sentUpTo;
   /** How many signals may be unanswered at once. */
   int               limit;

                     SpBusyWindow(void) { Reset(); }

   /** A new connection: everything is sent again from the start. */
   void              Reset(void)
     {
      sentUpTo = 0;
      limit = SP_BUSY_NO_LIMIT;
      m_refused = false;
      m_refusedFrom = 0;
      m_refusedLastSent = 0;
      m_drained = false;
      m_delayMs = SP_BUSY_RESEND_DELAY_MIN_MS;
     }

   bool              MaySend(int inFlight) const { return !m_refused && inFlight < limit; }
   bool              Refused(void) const { return m_refused; }

   void              Sent(ulong sequence)
     {
      if(sequence > sentUpTo)
         sentUpTo = sequence;
     }

   /** An ack (or a refusal for good) of `sequence`. */
   int               Answered(ulong sequence, bool acked, int outboxCapacity, long &delayMs)
     {
      if(acked && !m_refused)
        {
         m_delayMs = SP_BUSY_RESEND_DELAY_MIN_MS;
         if(limit != SP_BUSY_NO_LIMIT)
            limit = limit + 1 >= outboxCapacity ? SP_BUSY_NO_LIMIT : limit + 1;
        }
      return EndOfBurst(sequence, delayMs);
     }

   /** BUSY or RATE_LIMITED for `sequence`, with `inFlight` sent and unanswered. */
   int               Busy(ulong sequence, int inFlight, long &delayMs)
     {
      if(!m_refused)
        {
         if(sequence > sentUpTo)
            return SP_BUSY_IGNORE;
         m_refused = true;
         m_refusedFrom = sequence;
         m_refusedLastSent = sentUpTo;
         m_drained = false;
         int base = inFlight < limit ? inFlight : limit;
         limit = base / 2 < 1 ? 1 : base / 2;
        }
      else
         if(sequence < m_refusedFrom)
            m_refusedFrom = sequence;
      return EndOfBurst(sequence, delayMs);
     }

   /** The backoff is over: the first sequence to send again. */
   ulong             Resume(void)
     {
      ulong from = m_refused ? m_refusedFrom : sentUpTo + 1;
      m_refused = false;
      sentUpTo = from - 1;
      return from;
     }
  };

#endif
