/**
 * The heartbeat of the old library: `{"code":200,"msg":"success"}` with no data.
 */
export default () => {};
