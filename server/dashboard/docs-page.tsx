/** /docs: the OpenAPI description as a readable page, rendered on the server. */
const METHOD_CLASS: Record<string, string> = { get: 'ok', post: 'warn', put: 'warn', patch: 'warn', delete: 'bad' };

/** `200 Rollout`, `404 NotFound`: a status and the schema or shared response it names. */
function answer(status: string, response: any): string {
  const ref: string | undefined = response.$ref ?? response.content?.['application/json']?.schema?.$ref;
  return ref === undefined ? status : `${status} ${ref.split('/').pop()}`;
}

export function DocsPage(props: { document: any }) {
  const { document } = props;
  const byTag = new Map<string, { method: string; path: string; op: any }[]>();
  for (const [path, methods] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), { method, path, op }]);
    }
  }
  return (
    <div>
      <h1>{document.info.title} API {document.info.version}</h1>
      <p>
        {document.info.description} JSON over HTTP with <code>Authorization: Bearer &lt;key&gt;</code>; errors are <code>{'{ "error": { "code", "message", "details"? } }'}</code>. The machine-readable description is{' '}
        <a href="/openapi.json">/openapi.json</a> (OpenAPI {document.openapi}).
      </p>
      {[...byTag].map(([tag, ops]) => (
        <section class="card">
          <h2 style="margin-top:0">{tag}</h2>
          {ops.map(({ method, path, op }) => (
            <details id={op.operationId}>
              <summary>
                <span class={`badge ${METHOD_CLASS[method] ?? 'muted'}`}>{method.toUpperCase()}</span> <code>{path}</code> — {op.summary}
                {op.security?.length === 0 && <span class="muted"> (no key)</span>}
              </summary>
              {op.parameters.length > 0 && (
                <table>
                  <thead>
                    <tr><th>parameter</th><th>in</th><th>required</th><th>schema</th></tr>
                  </thead>
                  <tbody>
                    {op.parameters.map((p: any) => (
                      <tr>
                        <td><code>{p.name}</code></td>
                        <td>{p.in}</td>
                        <td>{p.required ? 'yes' : 'no'}</td>
                        <td class="mono">{JSON.stringify(p.schema)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              {op.requestBody && (
                <div>
                  <p>Body (JSON{op.requestBody.required ? '' : ', optional'}):</p>
                  <pre class="mono" style="white-space:pre-wrap;max-height:24rem;overflow:auto;background:#f6f8fa;padding:.5rem">
                    {JSON.stringify(op.requestBody.content['application/json'].schema, null, 2)}
                  </pre>
                </div>
              )}
              <p class="muted">Answers: {Object.entries(op.responses).map(([status, response]) => answer(status, response)).join(', ')}</p>
            </details>
          ))}
        </section>
      ))}
    </div>
  );
}
