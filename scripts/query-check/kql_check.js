// Parse KQL with Microsoft's Kusto.Language (npm @kusto/language-service-next) and report, per
// query, the syntax diagnostics and the decoded value of every string literal.
// stdin: JSON array of query strings; stdout: JSON array of {diagnostics, strings}.
global.Bridge = require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');
const K = Kusto.Language;
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = input.map((q) => {
  const code = K.KustoCode.Parse(q);
  const d = code.GetDiagnostics();
  const diagnostics = [];
  for (let i = 0; i < d.Count; i++) {
    const x = d.getItem(i);
    diagnostics.push(`${x.Message} at ${x.Start}`);
  }
  const strings = [];
  const walk = (n) => {
    if (!n) return;
    if (n instanceof K.Syntax.LiteralExpression && typeof n.LiteralValue === 'string') {
      strings.push(n.LiteralValue);
    }
    for (let i = 0; i < n.ChildCount; i++) walk(n.GetChild(i));
  };
  walk(code.Syntax);
  return { diagnostics, strings };
});
process.stdout.write(JSON.stringify(out));
