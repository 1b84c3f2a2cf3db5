/**
 * The rewrite that lets clang read the MQL5 build (MQL5 language servers
 * do the same): only MQL5's own syntax changes, everything else is read as
 * written.
 *   #property ...                 -> (dropped)
 *   input T x = v; / sinput ...   -> static T x = v;
 *   T name[];        (dynamic)    -> MqlArray<T> name;
 *   T &name[]        (parameter)  -> MqlArray<T> &name
 * The shared files need none of these: they are C++ already.
 */
export function mql5ToCpp(source: string): string {
  return source
    .split('\n')
    .map((line) => {
      if (/^\s*#property\b/.test(line)) return '';
      let out = line.replace(/^(\s*)s?input\s+/, '$1static ');
      // parameters: const uchar &data[] -> const MqlArray<uchar> &data
      out = out.replace(/\b(\w+)\s*&\s*(\w+)\s*\[\s*\]/g, 'MqlArray<$1> &$2');
      // declarations of dynamic arrays: uchar m_data[]; -> MqlArray<uchar> m_data;
      out = out.replace(/^(\s*)(\w+)(\s+)(\w+)\s*\[\s*\]\s*;/, '$1MqlArray<$2>$3$4;');
      return out;
    })
    .join('\n');
}
