/**
 * Problems of a list of routes (`routes`, `defaultRoutes`), each naming its key under `key`:
 * a destination on two routes would get each event twice, and one route would hold the
 * other's fallback; a name not under `destinations` goes nowhere (checked when `known` is given).
 */
export function routeListProblems(routes: readonly (readonly string[])[], key: string, known?: (name: string) => boolean): string[] {
  const problems: string[] = [];
  const onRoute = new Map<string, number>();
  routes.forEach((route, r) => {
    if (route.length === 0) problems.push(`${key}.${r} is empty: a route names at least one destination`);
    route.forEach((name, i) => {
      if (known && !known(name)) problems.push(`${key}.${r}.${i} names destination "${name}", which is not under destinations`);
      const first = onRoute.get(name);
      if (first === undefined) onRoute.set(name, r);
      else if (first !== r) problems.push(`${key}.${r}.${i}: destination "${name}" is already on ${key}.${first}; a destination may be on one route of a topic`);
    });
  });
  return problems;
}

/** The bounded `route` label of a route: its destinations in fallback order, e.g. `kafka>archive`. */
export function routeLabel(names: readonly string[]): string {
  return names.join('>');
}
