export async function run(_argv: string[]): Promise<number> {
  console.error('nodemeta agent: not implemented yet');
  return 1;
}
