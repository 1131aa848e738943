// Preloaded (`node --import`) into third-party servers that cannot be told where to listen (supergateway): every
// `listen(port[, cb])` without a host binds to 127.0.0.1, so the benchmark never opens a port on other interfaces.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) args.splice(1, 0, '127.0.0.1');
  return listen.apply(this, args);
};
