// Parse and analyze KQL with Microsoft's Kusto.Language (npm @kusto/language-service-next)
// against the two tables the queries read, and report per query the syntax and semantic
// diagnostics (unknown columns, type errors) and the decoded value of every string literal.
// stdin: JSON array of query strings; stdout: JSON array of {diagnostics, strings}.
global.Bridge = require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');
const K = Kusto.Language;
const S = K.Symbols;
// AzureActivity columns as documented for the Log Analytics table; the raw export as the
// diagnostic setting writes records (dynamic where the record nests objects).
const tables = [
  S.TableSymbol.From('(TimeGenerated:datetime, Caller:string, CallerIpAddress:string, SubscriptionId:string, ' +
    'OperationNameValue:string, ActivityStatusValue:string, ResourceGroup:string, _ResourceId:string, ' +
    'CorrelationId:string, Claims_d:dynamic, Properties_d:dynamic)').WithName('AzureActivity'),
  S.TableSymbol.From("(['time']:datetime, resourceId:string, operationName:string, category:string, " +
    'resultType:string, callerIpAddress:string, correlationId:string, identity:dynamic, properties:dynamic)')
    .WithName('AzureActivityExport'),
  // Sentinel's AWSCloudTrail table (the columns the Sigma conversions read): RequestParameters
  // is the request object as JSON text.
  S.TableSymbol.From('(TimeGenerated:datetime, EventSource:string, EventName:string, ErrorCode:string, ' +
    'AWSRegion:string, RecipientAccountId:string, UserIdentityType:string, UserIdentityArn:string, ' +
    'UserIdentityInvokedBy:string, UserIdentityAccountId:string, RequestParameters:string, ' +
    'EventTypeName:string)')
    .WithName('AWSCloudTrail'),
];
const globals = K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.$ctor1('logs', tables));
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = input.map((q) => {
  const code = K.KustoCode.ParseAndAnalyze(q, globals);
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
