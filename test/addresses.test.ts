/**
 * Resource addresses per stack and example config, as a snapshot. Terraform keys state by address: a
 * renamed construct id or a moved resource destroys and recreates it on the next apply. A change here
 * must be a decision (`npx jest test/addresses.test.ts -u`, reviewed in the diff), never a side effect.
 */
import { CONFIG_VARIANTS, synthConfig, type TfJson } from "./support/stack-json";

function addresses(json: TfJson): string[] {
  const list: string[] = [];
  for (const [type, byName] of Object.entries(json.resource ?? {})) for (const name of Object.keys(byName)) list.push(`${type}.${name}`);
  for (const [type, byName] of Object.entries(json.data ?? {})) for (const name of Object.keys(byName)) list.push(`data.${type}.${name}`);
  for (const name of Object.keys(json.output ?? {})) list.push(`output.${name}`);
  return list.sort();
}

describe.each(Object.entries(CONFIG_VARIANTS))("addresses of examples/%s.json", (_name, input) => {
  const { json } = synthConfig(input);
  test.each(Object.keys(json))("stack %s", (stack) => {
    expect(addresses(json[stack as keyof typeof json])).toMatchSnapshot();
  });
});
