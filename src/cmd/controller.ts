export async function run(_argv: string[]): Promise<number> {
  console.error('nodemeta controller: not implemented yet');
  return 1;
}
