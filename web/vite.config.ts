import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const backend = 'http://127.0.0.1:8765';

// Builds into the Python package (served by `dicomfab ui`); `npm run dev` proxies /api to a
// running `dicomfab ui --port 8765`.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: '../src/dicomfab/web/static',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': {
        target: backend,
        changeOrigin: true,
        configure: (proxy) => {
          // The backend refuses state-changing calls from another origin: in development the
          // page's origin is Vite's, so present the backend's own origin instead.
          proxy.on('proxyReq', (req) => {
            if (req.getHeader('origin')) req.setHeader('origin', backend);
            if (req.getHeader('referer')) req.setHeader('referer', backend + '/');
          });
        },
      },
    },
  },
});
