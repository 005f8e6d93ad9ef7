/**
 * Placement constraints, in Swarm's words (`node.labels.gpu==true`, `node.hostname!=a`,
 * `node.role==worker`): where an object may run on a backend of several machines. Given in a
 * workspace's `.jinad` (`constraints = a, b`) and as a create argument; one engine ignores them.
 */
import * as v from 'valibot';

const CONSTRAINT = /^(node\.(id|hostname|role|platform\.os|platform\.arch)|node\.labels\.[\w.-]+|engine\.labels\.[\w.-]+)\s*(==|!=)\s*[\w.:/-]+$/;
export const CONSTRAINT_PROBLEM = 'a constraint is `node.labels.<key>==<value>` (or !=), `node.hostname`, `node.role`, `node.id`, `node.platform.os|arch`, `engine.labels.<key>`';

/** `a, b` (or a list) → the constraints; throws naming the first that is not one. */
export function parseConstraints(raw: string | string[]): string[] {
  const list = (Array.isArray(raw) ? raw : raw.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const c of list) if (!CONSTRAINT.test(c)) throw new Error(`'${c}' is not a placement constraint: ${CONSTRAINT_PROBLEM}`);
  return list.map((c) => c.replace(/\s*(==|!=)\s*/, '$1'));
}

/** `constraints` as a create argument (query, repeatable or comma-separated; a Pod's body); `null` is unset. */
export const ConstraintsField = v.optional(
  v.nullable(
    v.pipe(
      v.union([v.string(), v.array(v.string())]),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        try {
          return parseConstraints(dataset.value);
        } catch (err) {
          addIssue({ message: (err as Error).message });
          return NEVER;
        }
      }),
      v.description('where it may run on a Swarm: node.labels.<key>==<value>, node.hostname!=<name>, …; comma-separated or repeated'),
    ),
  ),
);
