import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { initToken } from './api';
import App from './App';
import { ErrorBoundary } from './components/ErrorBoundary';
import './styles.css';

initToken();

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <ErrorBoundary label="dicomfab">
        <App />
      </ErrorBoundary>
    </StrictMode>,
  );
}
