// The Master EA's durable state, one SQLite file (MQL5's Database*):
//
//   meta     subscription_id (bound at the first Welcome), last_assigned
//            (the last sequence given to a signal), needs_snapshot
//   outbox   every signed frame not yet acked, by sequence: the exact bytes
//            first sent, sent again after a reconnect or a restart, never
//            signed again
//   book     what the server has been told the master holds: one row per
//            published position (a netting position may be several
//            "slices", each published as a position of its own)
//
// One signal is one transaction: its outbox row, the book change it makes
// and the new last_assigned commit together or not at all. A terminal
// killed between a trade and that commit publishes the trade after its
// restart (the book still differs from the terminal); killed after the
// commit, it resends the frame. Nothing is lost, nothing is doubled.
//
// The file is kept in memory too (fixed arrays of the limits' sizes); the
// database is read only at start.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_MASTER_STORE_MQH
#define SIGPLANE_MASTER_STORE_MQH

#include <Sigplane/Platform.mqh>
#include <Sigplane/Limits.mqh>
#include <Sigplane/Text.mqh>

/** One published position of the master. */
class SpSlice
  {
public:
   /** The position id on the wire: decimal ticket (v2), SP_SLICE_ID_BASE + sequence (a later netting slice), or "v1:<SYMBOL>". */
   string            id;
   /** The terminal position it belongs to (0 for a v1 net position). */
   ulong             ticket;
   string            symbol;
   int               orderType;
   double            volume;
   double            openPrice;
   double            stopLoss;
   double            takeProfit;
   ulong             magic;
   ulong             openedSequence;
                     SpSlice(void) { Reset(); }
   void              Reset(void)
     {
      id = "";
      ticket = 0;
      symbol = "";
      orderType = 0;
      volume = 0;
      openPrice = 0;
      stopLoss = 0;
      takeProfit = 0;
      magic = 0;
      openedSequence = 0;
     }
   void              CopyFrom(const SpSlice &o)
     {
      id = o.id;
      ticket = o.ticket;
      symbol = o.symbol;
      orderType = o.orderType;
      volume = o.volume;
      openPrice = o.openPrice;
      stopLoss = o.stopLoss;
      takeProfit = o.takeProfit;
      magic = o.magic;
      openedSequence = o.openedSequence;
     }
  };

// What a signal does to the book.
#define SP_BOOK_PUT 1
#define SP_BOOK_DELETE 2

class SpMasterStore
  {
private:
   int               m_db;
   int               m_insertOutbox;
   int               m_deleteOutbox;
   int               m_putSlice;
   int               m_deleteSlice;
   int               m_setMeta;
   // The outbox in memory: a ring of frames in ascending sequence; 0 marks a slot acked out of order.
   ulong             m_seq[SP_OUTBOX_SIGNALS_MAX];
   ByteBuffer        m_frames[SP_OUTBOX_SIGNALS_MAX];
   int               m_head;
   int               m_count;
   int               m_live;

   bool              SetMetaNoTx(const string &key, const string &value)
     {
      PlatformDbReset(m_setMeta);
      PlatformDbBindText(m_setMeta, 0, key);
      PlatformDbBindText(m_setMeta, 1, value);
      return PlatformDbStep(m_setMeta) == 0;
     }

   bool              PutSliceNoTx(const SpSlice &s)
     {
      PlatformDbReset(m_putSlice);
      PlatformDbBindText(m_putSlice, 0, s.id);
      PlatformDbBindText(m_putSlice, 1, SpUlongToDecimal(s.ticket));
      PlatformDbBindText(m_putSlice, 2, s.symbol);
      PlatformDbBindLong(m_putSlice, 3, s.orderType);
      PlatformDbBindDouble(m_putSlice, 4, s.volume);
      PlatformDbBindDouble(m_putSlice, 5, s.openPrice);
      PlatformDbBindDouble(m_putSlice, 6, s.stopLoss);
      PlatformDbBindDouble(m_putSlice, 7, s.takeProfit);
      PlatformDbBindText(m_putSlice, 8, SpUlongToDecimal(s.magic));
      PlatformDbBindLong(m_putSlice, 9, (long)s.openedSequence);
      return PlatformDbStep(m_putSlice) == 0;
     }

   bool              DeleteSliceNoTx(const string &id)
     {
      PlatformDbReset(m_deleteSlice);
      PlatformDbBindText(m_deleteSlice, 0, id);
      return PlatformDbStep(m_deleteSlice) == 0;
     }

   void              ApplySlice(int op, const SpSlice &s)
     {
      int at = FindSlice(s.id);
      if(op == SP_BOOK_DELETE)
        {
         if(at >= 0)
           {
            sliceCount--;
            if(at != sliceCount)
               slices[at].CopyFrom(slices[sliceCount]);
           }
         return;
        }
      if(at < 0)
        {
         at = sliceCount;
         sliceCount++;
        }
      slices[at].CopyFrom(s);
     }

   int               Slot(int i) const { return (m_head + i) % SP_OUTBOX_SIGNALS_MAX; }

   void              DropAckedHead(void)
     {
      while(m_count > 0 && m_seq[m_head] == 0)
        {
         m_head = (m_head + 1) % SP_OUTBOX_SIGNALS_MAX;
         m_count--;
        }
     }

   /** Close the holes left by out-of-order acks (keeps the order). */
   void              Compact(void)
     {
      int w = 0;
      for(int r = 0; r < m_count; r++)
        {
         int from = Slot(r);
         if(m_seq[from] == 0)
            continue;
         int to = Slot(w);
         if(to != from)
           {
            m_seq[to] = m_seq[from];
            m_frames[to].CopyFrom(m_frames[from]);
            m_seq[from] = 0;
           }
         w++;
        }
      m_count = w;
     }

public:
   string            subscriptionId;
   ulong             lastAssigned;
   bool              needsSnapshot;
   /** False until the first Welcome bound the file to a subscription. */
   bool              bound;
   SpSlice           slices[SP_MASTER_BOOK_MAX];
   int               sliceCount;

                     SpMasterStore(void)
     {
      m_db = -1;
      m_head = 0;
      m_count = 0;
      m_live = 0;
      sliceCount = 0;
      lastAssigned = 0;
      needsSnapshot = false;
      bound = false;
      for(int i = 0; i < SP_OUTBOX_SIGNALS_MAX; i++)
         m_seq[i] = 0;
     }

   /** Open (or create) the state file; "" when ready, else why not. */
   string            Open(const string &name)
     {
      m_db = PlatformDbOpen(name);
      if(m_db <= 0)
         return "STATE_FILE_UNAVAILABLE: cannot open " + name;
      // WAL with FULL sync: a committed signal survives the terminal and the machine stopping.
      PlatformDbExec(m_db, "PRAGMA journal_mode=WAL");
      PlatformDbExec(m_db, "PRAGMA synchronous=FULL");
      if(!PlatformDbExec(m_db, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)") ||
         !PlatformDbExec(m_db, "CREATE TABLE IF NOT EXISTS outbox (sequence INTEGER PRIMARY KEY, frame BLOB NOT NULL)") ||
         !PlatformDbExec(m_db, "CREATE TABLE IF NOT EXISTS book (id TEXT PRIMARY KEY, ticket TEXT NOT NULL, symbol TEXT NOT NULL, order_type INTEGER NOT NULL, volume REAL NOT NULL, open_price REAL NOT NULL, stop_loss REAL NOT NULL, take_profit REAL NOT NULL, magic TEXT NOT NULL, opened_sequence INTEGER NOT NULL)"))
         return "STATE_FILE_UNAVAILABLE: cannot create the tables of " + name;
      m_insertOutbox = PlatformDbPrepare(m_db, "INSERT INTO outbox (sequence, frame) VALUES (?, ?)");
      m_deleteOutbox = PlatformDbPrepare(m_db, "DELETE FROM outbox WHERE sequence <= ? AND sequence >= ?");
      m_putSlice = PlatformDbPrepare(m_db, "INSERT OR REPLACE INTO book (id, ticket, symbol, order_type, volume, open_price, stop_loss, take_profit, magic, opened_sequence) VALUES (?,?,?,?,?,?,?,?,?,?)");
      m_deleteSlice = PlatformDbPrepare(m_db, "DELETE FROM book WHERE id = ?");
      m_setMeta = PlatformDbPrepare(m_db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
      if(m_insertOutbox <= 0 || m_deleteOutbox <= 0 || m_putSlice <= 0 || m_deleteSlice <= 0 || m_setMeta <= 0)
         return "STATE_FILE_UNAVAILABLE: cannot prepare statements";
      // meta
      int st = PlatformDbPrepare(m_db, "SELECT key, value FROM meta");
      string key = "", value = "";
      while(PlatformDbStep(st) == 1)
        {
         PlatformDbColumnText(st, 0, key);
         PlatformDbColumnText(st, 1, value);
         if(key == "subscription_id")
           {
            subscriptionId = value;
            bound = true;
           }
         else
            if(key == "last_assigned")
               SpParseUlong(value, lastAssigned);
            else
               if(key == "needs_snapshot")
                  needsSnapshot = value == "1";
        }
      PlatformDbFinalize(st);
      // book
      sliceCount = 0;
      st = PlatformDbPrepare(m_db, "SELECT id, ticket, symbol, order_type, volume, open_price, stop_loss, take_profit, magic, opened_sequence FROM book ORDER BY opened_sequence");
      string text = "";
      while(PlatformDbStep(st) == 1 && sliceCount < SP_MASTER_BOOK_MAX)
        {
         SpSlice s;
         PlatformDbColumnText(st, 0, s.id);
         PlatformDbColumnText(st, 1, text);
         SpParseUlong(text, s.ticket);
         PlatformDbColumnText(st, 2, s.symbol);
         s.orderType = (int)PlatformDbColumnLong(st, 3);
         s.volume = PlatformDbColumnDouble(st, 4);
         s.openPrice = PlatformDbColumnDouble(st, 5);
         s.stopLoss = PlatformDbColumnDouble(st, 6);
         s.takeProfit = PlatformDbColumnDouble(st, 7);
         PlatformDbColumnText(st, 8, text);
         SpParseUlong(text, s.magic);
         s.openedSequence = (ulong)PlatformDbColumnLong(st, 9);
         slices[sliceCount].CopyFrom(s);
         sliceCount++;
        }
      PlatformDbFinalize(st);
      // outbox
      for(int i = 0; i < SP_OUTBOX_SIGNALS_MAX; i++)
         m_frames[i].Reserve(512);
      m_head = 0;
      m_count = 0;
      m_live = 0;
      st = PlatformDbPrepare(m_db, "SELECT sequence, frame FROM outbox ORDER BY sequence");
      while(PlatformDbStep(st) == 1 && m_count < SP_OUTBOX_SIGNALS_MAX)
        {
         m_seq[m_count] = (ulong)PlatformDbColumnLong(st, 0);
         PlatformDbColumnBlob(st, 1, m_frames[m_count]);
         m_count++;
         m_live++;
        }
      PlatformDbFinalize(st);
      return "";
     }

   void              Close(void)
     {
      if(m_db > 0)
         PlatformDbClose(m_db);
      m_db = -1;
     }

   int               FindSlice(const string &id) const
     {
      for(int i = 0; i < sliceCount; i++)
         if(slices[i].id == id)
            return i;
      return -1;
     }

   // ---- the outbox ----

   int               OutboxSize(void) const { return m_live; }
   bool              OutboxFull(void) const { return m_live >= SP_OUTBOX_SIGNALS_MAX; }
   /** Slots, in ascending sequence; a slot whose Sequence is 0 was acked out of order: skip it. */
   int               OutboxSlots(void) const { return m_count; }
   ulong             OutboxSequence(int i) const { return m_seq[Slot(i)]; }
   void              OutboxFrame(int i, ByteBuffer &out) const { out.CopyFrom(m_frames[Slot(i)]); }
   bool              OutboxHas(ulong sequence) const
     {
      for(int i = 0; i < m_count; i++)
         if(m_seq[Slot(i)] == sequence)
            return true;
      return false;
     }
   /** The highest sequence waiting, 0 when none. */
   ulong             OutboxHighest(void) const
     {
      for(int i = m_count - 1; i >= 0; i--)
         if(m_seq[Slot(i)] != 0)
            return m_seq[Slot(i)];
      return 0;
     }

   /** Forget the frames of sequences [from, to] (acked, or covered by a snapshot). */
   bool              RemoveOutboxRange(ulong from, ulong to)
     {
      PlatformDbReset(m_deleteOutbox);
      PlatformDbBindLong(m_deleteOutbox, 0, (long)to);
      PlatformDbBindLong(m_deleteOutbox, 1, (long)from);
      bool ok = PlatformDbStep(m_deleteOutbox) == 0;
      for(int i = 0; i < m_count; i++)
        {
         int slot = Slot(i);
         if(m_seq[slot] != 0 && m_seq[slot] >= from && m_seq[slot] <= to)
           {
            m_seq[slot] = 0;
            m_live--;
           }
        }
      DropAckedHead();
      return ok;
     }

   // ---- signals ----

   /**
    * One signal, one transaction: its frame in the outbox, its change of the
    * book, the new last assigned sequence. False (nothing changed) when the
    * database refused.
    */
   bool              CommitSignal(ulong sequence, const ByteBuffer &frame, int op, const SpSlice &slice)
     {
      if(OutboxFull())
         return false;
      if(!PlatformDbBegin(m_db))
         return false;
      PlatformDbReset(m_insertOutbox);
      PlatformDbBindLong(m_insertOutbox, 0, (long)sequence);
      PlatformDbBindBlob(m_insertOutbox, 1, frame);
      bool ok = PlatformDbStep(m_insertOutbox) == 0;
      if(ok)
         ok = op == SP_BOOK_DELETE ? DeleteSliceNoTx(slice.id) : PutSliceNoTx(slice);
      if(ok)
         ok = SetMetaNoTx("last_assigned", SpUlongToDecimal(sequence));
      if(!ok || !PlatformDbCommit(m_db))
        {
         PlatformDbRollback(m_db);
         return false;
        }
      ApplySlice(op, slice);
      lastAssigned = sequence;
      if(m_count >= SP_OUTBOX_SIGNALS_MAX)
         Compact();
      int slot = Slot(m_count);
      m_seq[slot] = sequence;
      m_frames[slot].CopyFrom(frame);
      m_count++;
      m_live++;
      return true;
     }

   // ---- the rest, each its own transaction ----

   bool              BindSubscription(const string &id, ulong serverLast)
     {
      if(!PlatformDbBegin(m_db))
         return false;
      bool ok = SetMetaNoTx("subscription_id", id) && SetMetaNoTx("last_assigned", SpUlongToDecimal(serverLast));
      if(!ok || !PlatformDbCommit(m_db))
        {
         PlatformDbRollback(m_db);
         return false;
        }
      subscriptionId = id;
      lastAssigned = serverLast;
      bound = true;
      return true;
     }

   bool              SetLastAssigned(ulong sequence)
     {
      if(!SetMetaNoTx("last_assigned", SpUlongToDecimal(sequence)))
         return false;
      lastAssigned = sequence;
      return true;
     }

   bool              SetNeedsSnapshot(bool value)
     {
      if(value == needsSnapshot)
         return true;
      if(!SetMetaNoTx("needs_snapshot", value ? "1" : "0"))
         return false;
      needsSnapshot = value;
      return true;
     }

   /** Book changes without a signal (what a snapshot carries), in one transaction. */
   bool              BeginBookChanges(void) { return PlatformDbBegin(m_db); }
   bool              PutSlice(const SpSlice &s)
     {
      if(!PutSliceNoTx(s))
         return false;
      ApplySlice(SP_BOOK_PUT, s);
      return true;
     }
   bool              DeleteSlice(const SpSlice &s)
     {
      if(!DeleteSliceNoTx(s.id))
         return false;
      ApplySlice(SP_BOOK_DELETE, s);
      return true;
     }
   bool              CommitBookChanges(void) { return PlatformDbCommit(m_db); }
   /** A failed batch: the database rolls back and memory is read again from it. */
   void              RollbackBookChanges(const string &name)
     {
      PlatformDbRollback(m_db);
      Close();
      Open(name);
     }
  };

#endif
