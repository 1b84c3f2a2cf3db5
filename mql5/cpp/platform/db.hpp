// The database of the C++ platform layer: sqlite3, the engine MQL5's
// Database* functions embed. Files live in SIGPLANE_EA_FILES (MT5: the
// terminals' common Files folder, DATABASE_OPEN_COMMON). Parameter indexes
// start at 0 as in DatabaseBind.
#ifndef SIGPLANE_CPP_DB_HPP
#define SIGPLANE_CPP_DB_HPP

#include <sqlite3.h>
#include <cstdlib>
#include <string>

inline sqlite3 *g_databases[8];
inline sqlite3_stmt *g_statements[256];

inline std::string PlatformFilesDir() {
  const char *dir = std::getenv("SIGPLANE_EA_FILES");
  return dir != nullptr && dir[0] != 0 ? std::string(dir) : std::string(".");
}

inline int PlatformDbOpen(const string &name) {
  for (int i = 1; i < 8; i++) {
    if (g_databases[i] != nullptr) continue;
    std::string path = PlatformFilesDir() + "/" + name.Std();
    sqlite3 *db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      if (db != nullptr) sqlite3_close(db);
      return -1;
    }
    sqlite3_busy_timeout(db, 5000);
    g_databases[i] = db;
    return i;
  }
  return -1;
}

inline sqlite3 *PlatformDb(int db) { return db > 0 && db < 8 ? g_databases[db] : nullptr; }
inline sqlite3_stmt *PlatformStatement(int st) { return st > 0 && st < 256 ? g_statements[st] : nullptr; }

inline void PlatformDbClose(int db) {
  sqlite3 *handle = PlatformDb(db);
  if (handle == nullptr) return;
  for (int i = 1; i < 256; i++) {
    if (g_statements[i] != nullptr && sqlite3_db_handle(g_statements[i]) == handle) {
      sqlite3_finalize(g_statements[i]);
      g_statements[i] = nullptr;
    }
  }
  sqlite3_close(handle);
  g_databases[db] = nullptr;
}

inline bool PlatformDbExec(int db, const string &sql) {
  sqlite3 *handle = PlatformDb(db);
  if (handle == nullptr) return false;
  char *message = nullptr;
  int rc = sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &message);
  if (message != nullptr) sqlite3_free(message);
  return rc == SQLITE_OK;
}

inline int PlatformDbPrepare(int db, const string &sql) {
  sqlite3 *handle = PlatformDb(db);
  if (handle == nullptr) return -1;
  for (int i = 1; i < 256; i++) {
    if (g_statements[i] != nullptr) continue;
    sqlite3_stmt *statement = nullptr;
    if (sqlite3_prepare_v2(handle, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) return -1;
    g_statements[i] = statement;
    return i;
  }
  return -1;
}

inline bool PlatformDbBindLong(int st, int index, long value) {
  sqlite3_stmt *s = PlatformStatement(st);
  return s != nullptr && sqlite3_bind_int64(s, index + 1, value) == SQLITE_OK;
}
inline bool PlatformDbBindDouble(int st, int index, double value) {
  sqlite3_stmt *s = PlatformStatement(st);
  return s != nullptr && sqlite3_bind_double(s, index + 1, value) == SQLITE_OK;
}
inline bool PlatformDbBindText(int st, int index, const string &value) {
  sqlite3_stmt *s = PlatformStatement(st);
  return s != nullptr && sqlite3_bind_text(s, index + 1, value.c_str(), StringLen(value), SQLITE_TRANSIENT) == SQLITE_OK;
}
inline bool PlatformDbBindBlob(int st, int index, const ByteBuffer &value) {
  sqlite3_stmt *s = PlatformStatement(st);
  return s != nullptr && sqlite3_bind_blob(s, index + 1, value.Data(), value.Size(), SQLITE_TRANSIENT) == SQLITE_OK;
}

inline int PlatformDbStep(int st) {
  sqlite3_stmt *s = PlatformStatement(st);
  if (s == nullptr) return -1;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return 1;
  if (rc == SQLITE_DONE) return 0;
  return -1;
}

inline long PlatformDbColumnLong(int st, int column) {
  sqlite3_stmt *s = PlatformStatement(st);
  return s == nullptr ? 0 : (long)sqlite3_column_int64(s, column);
}
inline double PlatformDbColumnDouble(int st, int column) {
  sqlite3_stmt *s = PlatformStatement(st);
  return s == nullptr ? 0 : sqlite3_column_double(s, column);
}
inline void PlatformDbColumnText(int st, int column, string &out) {
  sqlite3_stmt *s = PlatformStatement(st);
  const unsigned char *text = s == nullptr ? nullptr : sqlite3_column_text(s, column);
  out.StdMutable().assign(text == nullptr ? "" : (const char *)text, text == nullptr ? 0 : (size_t)sqlite3_column_bytes(s, column));
}
inline void PlatformDbColumnBlob(int st, int column, ByteBuffer &out) {
  sqlite3_stmt *s = PlatformStatement(st);
  out.Clear();
  if (s == nullptr) return;
  const unsigned char *data = (const unsigned char *)sqlite3_column_blob(s, column);
  int n = sqlite3_column_bytes(s, column);
  for (int i = 0; i < n; i++) out.Push(data[i]);
}

inline void PlatformDbReset(int st) {
  sqlite3_stmt *s = PlatformStatement(st);
  if (s == nullptr) return;
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
}

inline void PlatformDbFinalize(int st) {
  sqlite3_stmt *s = PlatformStatement(st);
  if (s == nullptr) return;
  sqlite3_finalize(s);
  g_statements[st] = nullptr;
}

inline bool PlatformDbBegin(int db) { return PlatformDbExec(db, "BEGIN IMMEDIATE"); }
inline bool PlatformDbCommit(int db) { return PlatformDbExec(db, "COMMIT"); }
inline bool PlatformDbRollback(int db) { return PlatformDbExec(db, "ROLLBACK"); }

#endif
