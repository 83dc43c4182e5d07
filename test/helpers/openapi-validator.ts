/**
 * Checks real responses against what `/openapi.json` declares for their
 * operation, with a JSON Schema 2020-12 validator (ajv, formats included):
 * the status must be one the operation lists, the content type the one it
 * names, and a JSON body must match the schema. Every check is recorded, so
 * a test can ask which operations and statuses a session exercised.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export interface Exchange {
  method: string;
  /** The path as requested, query string and all. */
  url: string;
  status: number;
  contentType: string | null;
  /** The body as text ('' when there was none). */
  text: string;
}

export interface Checked {
  operation: string;
  status: number;
}

const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

export function createResponseValidator(document: any) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(document, 'openapi.json');
  const compiled = new Map<string, ValidateFunction>();
  const seen: Checked[] = [];

  const templates = Object.keys(document.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`),
    params: (template.match(/\{/g) ?? []).length,
  }));

  /** The operation a request went to: a literal path before a templated one (`/v1/keys/prune` before `/v1/keys/{id}`). */
  function operationOf(method: string, path: string) {
    const m = method.toLowerCase();
    const found = templates.filter((t) => t.pattern.test(path) && document.paths[t.template][m] !== undefined).sort((a, b) => a.params - b.params)[0];
    if (found === undefined) throw new Error(`${method} ${path}: no operation in /openapi.json`);
    return { template: found.template, operation: document.paths[found.template][m] };
  }

  function resolved(response: any): any {
    return response.$ref === undefined ? response : document.components.responses[response.$ref.split('/').pop()];
  }

  function validatorFor(pointer: string): ValidateFunction {
    let validate = compiled.get(pointer);
    if (validate === undefined) compiled.set(pointer, (validate = ajv.compile({ $ref: `openapi.json#${pointer}` })));
    return validate;
  }

  /** Throws unless the response is one the operation declares, in shape and content type. */
  function check(exchange: Exchange): void {
    const path = new URL(exchange.url, 'http://rollcall').pathname;
    const { template, operation } = operationOf(exchange.method, path);
    const what = `${exchange.method} ${path} → ${exchange.status}`;
    const declared = operation.responses[String(exchange.status)];
    if (declared === undefined) throw new Error(`${what}: status not declared (declared: ${Object.keys(operation.responses).join(', ')})\n${exchange.text}`);
    const response = resolved(declared);
    seen.push({ operation: `${exchange.method.toLowerCase()} ${template}`, status: exchange.status });
    const content: Record<string, { schema?: unknown }> | undefined = response.content;
    if (content === undefined) {
      if (exchange.text !== '') throw new Error(`${what}: a body where none is declared\n${exchange.text}`);
      return;
    }
    const type = (exchange.contentType ?? '').split(';')[0]!.trim();
    if (content[type] === undefined) throw new Error(`${what}: content type ${type || '(none)'} not declared (declared: ${Object.keys(content).join(', ')})`);
    if (type !== 'application/json') return;
    // The pointer to the schema inside the document, so that its $refs resolve as any OpenAPI tool resolves them.
    const pointer = declared.$ref === undefined
      ? `/paths/${escape(template)}/${exchange.method.toLowerCase()}/responses/${exchange.status}/content/application~1json/schema`
      : `/components/responses/${declared.$ref.split('/').pop()}/content/application~1json/schema`;
    const validate = validatorFor(pointer);
    if (!validate(JSON.parse(exchange.text))) {
      throw new Error(`${what}: the body does not match the declared schema\n${ajv.errorsText(validate.errors, { separator: '\n' })}\n${exchange.text.slice(0, 2000)}`);
    }
  }

  return { check, seen };
}
