// The receiver's ordering rules, a state machine with the time passed in
// (client/receiver-sequencer.ts, the same rules):
//
//   sequence <= last executed        duplicate: ignore
//   sequence == last executed + 1    execute (then Executed)
//   sequence >  last executed + 1    gap: ask once for last + 1 .., ignore
//                                    out-of-order ones until it is filled
//   snapshot at s >= last executed   apply (then SnapshotApplied)
//   snapshot at s <  last executed   stale: ignore (never go back in time)
//
// A gap is filled when the last executed sequence reaches the highest one
// seen while it was open; with no progress for SP_GAP_RETRY_MS the request
// is repeated. No last executed sequence yet (a new position map): the
// first delivery or snapshot is the baseline.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_RECEIVER_SEQUENCER_MQH
#define SIGPLANE_RECEIVER_SEQUENCER_MQH

#include <Sigplane/Limits.mqh>

#define SP_SEQ_EXECUTE 1
#define SP_SEQ_DUPLICATE 2
#define SP_SEQ_GAP 3
#define SP_SEQ_OUT_OF_ORDER 4
#define SP_SEQ_APPLY 5
#define SP_SEQ_STALE 6

class SpReceiverSequencer
  {
private:
   bool              m_hasLast;
   ulong             m_last;
   bool              m_gapOpen;
   ulong             m_gapHighest;
   long              m_gapActivityMs;

   void              Progress(long nowMs)
     {
      if(!m_gapOpen)
         return;
      if(m_hasLast && m_last >= m_gapHighest)
         m_gapOpen = false;
      else
         m_gapActivityMs = nowMs;
     }

public:
                     SpReceiverSequencer(void) { Reset(false, 0); }

   void              Reset(bool hasLast, ulong last)
     {
      m_hasLast = hasLast;
      m_last = last;
      m_gapOpen = false;
      m_gapHighest = 0;
      m_gapActivityMs = 0;
     }

   bool              HasLast(void) const { return m_hasLast; }
   ulong             Last(void) const { return m_last; }
   bool              GapOpen(void) const { return m_gapOpen; }

   /** What to do with a delivery; for a gap, `syncFrom` is the first sequence to ask for. */
   int               OnDelivery(ulong sequence, long nowMs, ulong &syncFrom)
     {
      if(!m_hasLast || sequence == m_last + 1)
         return SP_SEQ_EXECUTE;
      if(sequence <= m_last)
         return SP_SEQ_DUPLICATE;
      if(!m_gapOpen)
        {
         m_gapOpen = true;
         m_gapHighest = sequence;
         m_gapActivityMs = nowMs;
         syncFrom = m_last + 1;
         return SP_SEQ_GAP;
        }
      if(sequence > m_gapHighest)
         m_gapHighest = sequence;
      return SP_SEQ_OUT_OF_ORDER;
     }

   void              Executed(ulong sequence, long nowMs)
     {
      m_hasLast = true;
      m_last = sequence;
      Progress(nowMs);
     }

   int               OnSnapshot(ulong sequence)
     {
      if(m_hasLast && sequence < m_last)
         return SP_SEQ_STALE;
      return SP_SEQ_APPLY;
     }

   void              SnapshotApplied(ulong sequence, long nowMs)
     {
      m_hasLast = true;
      m_last = sequence;
      Progress(nowMs);
     }

   /** A gap without progress for SP_GAP_RETRY_MS: true, with the sequence to ask from. */
   bool              Tick(long nowMs, ulong &syncFrom)
     {
      if(!m_gapOpen || !m_hasLast)
         return false;
      if(nowMs - m_gapActivityMs < SP_GAP_RETRY_MS)
         return false;
      m_gapActivityMs = nowMs;
      syncFrom = m_last + 1;
      return true;
     }

   /** A new connection: its Subscribe (with the last executed sequence) replaces any open request. */
   void              OnReconnect(void) { m_gapOpen = false; }
  };

#endif
