// When the Receiver EA sends its DeliveryAck: the policy of the TypeScript
// SDK's client/receiver-acks.ts, with its numbers (Limits.mqh,
// SP_RECEIVER_ACK_*). An ack is cumulative: the server takes "executed up
// to N" (docs/protocol.md), so one ack of the highest executed sequence
// stands for every one before it, and acking each delivery only costs the
// server work (an ack frame, a cursor record).
//
// An executed sequence is acked at once while the ack budget lasts
// (SP_RECEIVER_ACK_BURST acks, refilled one per SP_RECEIVER_ACK_INTERVAL_MS):
// a receiver getting a signal now and then acks each one as before. Past
// the budget, in a burst, the highest executed sequence is held and acked
// when the next token comes (Due, from the EA's timer: within the interval
// and one timer period) or after SP_RECEIVER_ACK_EVERY executions, whichever
// first. A snapshot, and the EA's deinit, ack at once.
//
// Only what the EA has written is ever handed here (apply, write, ack): a
// held ack that is never sent is lost work, not lost state. Held acks
// belong to one connection: Forget on a new or a lost one, since the
// Subscribe that follows states the last executed sequence.
//
// This class decides; the EA sends: when Executed or Due answers true (or
// at deinit when Holding), it sends the ack of Pending() and calls Done.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_RECEIVER_ACKS_MQH
#define SIGPLANE_RECEIVER_ACKS_MQH

#include <Sigplane/Limits.mqh>
#include <Sigplane/TokenBucket.mqh>

class SpReceiverAcks
  {
private:
   SpTokenBucket     m_budget;
   bool              m_holding;
   /** The highest executed sequence not acked yet (when m_holding). */
   ulong             m_held;
   int               m_unacked;
   long              m_sent;

public:
                     SpReceiverAcks(void)
     {
      m_holding = false;
      m_held = 0;
      m_unacked = 0;
      m_sent = 0;
      Start(0);
     }

   /** A full budget from `nowMs` (the EA's start); nothing held. */
   void              Start(long nowMs)
     {
      m_budget.Configure((uint)(1000 / SP_RECEIVER_ACK_INTERVAL_MS), (uint)SP_RECEIVER_ACK_BURST, nowMs);
      Forget();
     }

   /**
    * `sequence` was executed and written (a snapshot up to it applied: `now`).
    * True when it is to be acked now.
    */
   bool              Executed(ulong sequence, bool now, long nowMs)
     {
      m_held = sequence;
      m_holding = true;
      m_unacked++;
      // The token is taken first, as client/receiver-acks.ts does: an ack sent for a snapshot spends one too.
      return m_budget.TryTake(nowMs) || now || m_unacked >= SP_RECEIVER_ACK_EVERY;
     }

   /** From the timer: true when an ack is held and its token has come. */
   bool              Due(long nowMs)
     {
      return m_holding && m_budget.TryTake(nowMs);
     }

   bool              Holding(void) const { return m_holding; }
   /** The sequence to ack (when Holding). */
   ulong             Pending(void) const { return m_held; }

   /** The ack of Pending() went (`sent`), or could not (no open connection): nothing is held either way. */
   void              Done(bool sent)
     {
      if(sent && m_holding)
         m_sent++;
      Forget();
     }

   /** A new or a lost connection: what is held is not sent (the next Subscribe carries it). */
   void              Forget(void)
     {
      m_holding = false;
      m_held = 0;
      m_unacked = 0;
     }

   /** DeliveryAcks sent since the EA started. */
   long              Sent(void) const { return m_sent; }
  };

#endif
